//! Claims of paper mttvm21 (see the module docs of [`super`]).

use crate::claim::registry::Entry;

/// The registered claims of this paper.
pub fn entries() -> Vec<Entry> {
    Vec::new()
}
