//! Reading and writing dense `f64` matrices as NumPy `.npy` files (format versions 1–3), via
//! the `npyz` crate.
//!
//! Data sets (`X.npy`, `Y.npy`) and initial weights (`W1.npy`, …) are exchanged with Python in
//! this format. [`read_matrix`] accepts a 1-D or 2-D `float64` array in C or Fortran order and
//! refuses anything a gradient-flow run cannot use (other dtypes, more than two axes, empty
//! arrays, NaN/Inf entries), with a message that names the file. [`to_npy_bytes`] and
//! [`write_matrix`] write C-order little-endian `float64` (`'<f8'`), which `numpy.load` reads.

use std::io::Cursor;
use std::path::Path;

use nalgebra::DMatrix;
use npyz::{DType, NpyFile, NpyHeader, Order, WriterBuilder};

use crate::error::GradflowError;
use crate::limits::shorten;
use crate::report::atomic::write_atomic;

/// The `.npy` type strings accepted by [`read_matrix`]: IEEE-754 binary64, either byte order
/// (`npyz` converts big-endian data on the fly; NumPy writes `'<f8'` on every common machine).
const ACCEPTED_DTYPES: [&str; 2] = ["<f8", ">f8"];

/// Reads a real matrix from the `.npy` file at `path`.
///
/// Accepted: dtype `float64` (`'<f8'`, or big-endian `'>f8'`), C or Fortran order, shape
/// `(r, c)` (read as an `r×c` matrix) or `(n,)` (read as an `n×1` column). The matrix entry
/// `(i, j)` is the NumPy element `a[i, j]` whatever the storage order.
///
/// Errors (each message names the file and is one line: the parser's diagnostic is
/// summarised, the header text never echoed, long values cut):
/// - [`GradflowError::Config`]: the file is larger than the memory limit
///   ([`crate::limits::Limits::max_memory`]; it is not read);
/// - [`GradflowError::Io`]: the file cannot be read, is not an `.npy` file, has a malformed
///   header (or a header length past the end of the file), or holds fewer or more data
///   bytes than its header declares (truncated file);
/// - [`GradflowError::Data`]: a dtype other than `float64` (the message quotes the dtype), a 0-D
///   or more-than-2-D array (the message gives the shape), an empty array (zero rows or
///   columns), or a NaN/±Inf entry (the message gives the first offending 0-based `(row, col)`
///   in row-major order and its value).
pub fn read_matrix(path: &Path) -> Result<DMatrix<f64>, GradflowError> {
    let shown = shown_path(path);
    let io = |message: String| GradflowError::Io {
        path: shown.clone(),
        message: shorten(&message, 300),
    };
    // the file is read whole: its size is checked against the memory limit first
    let limit = crate::limits::current().max_memory;
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.len() > limit {
            return Err(GradflowError::Config(format!(
                "{shown}: the file has {}, more than the memory limit of {}; raise the limit \
                 with {}",
                crate::limits::format_bytes(u128::from(meta.len())),
                crate::limits::format_bytes(u128::from(limit)),
                crate::limits::MEMORY_FLAG
            )));
        }
    }
    let bytes = std::fs::read(path).map_err(|e| io(e.to_string()))?;
    check_preamble(&bytes).map_err(|m| io(format!("not a valid .npy file: {m}")))?;
    let mut cursor = Cursor::new(bytes.as_slice());
    let header = NpyHeader::from_reader(&mut cursor).map_err(|e| {
        io(format!(
            "not a valid .npy file (bad magic or header): {}",
            one_line(&e.to_string())
        ))
    })?;
    let data_start = usize::try_from(cursor.position())
        .map_err(|_| io("header offset does not fit in memory".into()))?;

    let dtype = header.dtype();
    let type_str = match &dtype {
        DType::Plain(ts) => ts.to_string(),
        other => other.descr(),
    };
    if !ACCEPTED_DTYPES.contains(&type_str.as_str()) {
        return Err(GradflowError::Data(format!(
            "{shown}: dtype '{}' is not supported; expected float64 ('<f8'), \
             e.g. save with numpy.save(path, a.astype(numpy.float64))",
            shorten(&type_str, 40)
        )));
    }

    let shape = header.shape().to_vec();
    let (rows, cols) = match shape.as_slice() {
        [n] => (*n, 1),
        [r, c] => (*r, *c),
        _ => {
            return Err(GradflowError::Data(format!(
                "{shown}: array has {} dimensions (shape {}); expected a 1-D or 2-D array",
                shape.len(),
                show_shape(&shape)
            )))
        }
    };
    if rows == 0 || cols == 0 {
        return Err(GradflowError::Data(format!(
            "{shown}: array is empty (shape {}); need at least one row and one column",
            show_shape(&shape)
        )));
    }
    let too_big = || io(format!("shape {} is too large", show_shape(&shape)));
    let rows = usize::try_from(rows).map_err(|_| too_big())?;
    let cols = usize::try_from(cols).map_err(|_| too_big())?;
    let n_values = rows.checked_mul(cols).ok_or_else(too_big)?;
    let n_bytes = n_values.checked_mul(8).ok_or_else(too_big)?;

    let available = bytes.len() - data_start;
    if available < n_bytes {
        return Err(io(format!(
            "truncated .npy file: header declares shape {} ({n_values} float64 values, \
             {n_bytes} bytes) but only {available} data bytes follow",
            show_shape(&shape)
        )));
    }
    if available > n_bytes {
        return Err(io(format!(
            "malformed .npy file: header declares shape {} ({n_bytes} data bytes) but \
             {available} data bytes follow",
            show_shape(&shape)
        )));
    }

    let order = header.order();
    let npy = NpyFile::with_header(header, &bytes[data_start..]);
    let values: Vec<f64> = npy.into_vec().map_err(|e| {
        io(format!(
            "cannot decode float64 data: {}",
            one_line(&e.to_string())
        ))
    })?;

    let m = match order {
        Order::C => DMatrix::from_row_slice(rows, cols, &values),
        Order::Fortran => DMatrix::from_column_slice(rows, cols, &values),
    };
    if let Some((i, j, v)) = first_non_finite(&m) {
        return Err(GradflowError::Data(format!(
            "{shown}: entry ({i}, {j}) is {v} (0-based row, column); all entries must be finite"
        )));
    }
    Ok(m)
}

/// The magic string, version and header length of an `.npy` file, checked before the header
/// is parsed: the header length must fit in the file (the parser would otherwise allocate
/// the declared length, up to 4 GiB, before noticing).
fn check_preamble(bytes: &[u8]) -> Result<(), String> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err("the magic string \\x93NUMPY is missing".into());
    }
    let (major, minor) = (bytes[6], bytes[7]);
    let (len_bytes, header_len) = match major {
        1 => (2, usize::from(u16::from_le_bytes([bytes[8], bytes[9]]))),
        2 | 3 if bytes.len() >= 12 => (
            4,
            usize::try_from(u32::from_le_bytes([
                bytes[8], bytes[9], bytes[10], bytes[11],
            ]))
            .unwrap_or(usize::MAX),
        ),
        2 | 3 => return Err("the file ends inside the header length".into()),
        _ => return Err(format!("unsupported format version {major}.{minor}")),
    };
    let rest = bytes.len() - 8 - len_bytes;
    if header_len > rest {
        return Err(format!(
            "the header length is {header_len} bytes but only {rest} bytes follow"
        ));
    }
    Ok(())
}

/// A path for a message: at most 300 characters, control characters replaced (an error
/// message is one line).
fn shown_path(path: &Path) -> String {
    shorten(&path.display().to_string(), 300)
}

/// A shape for a message: up to four axes, else the first ones and the count.
fn show_shape(shape: &[u64]) -> String {
    if shape.len() <= 4 {
        return format!("{shape:?}");
    }
    let head: Vec<String> = shape[..3].iter().map(|s| s.to_string()).collect();
    format!("[{}, …] ({} axes)", head.join(", "), shape.len())
}

/// The parser's (possibly multi-line) message as one short line: the source excerpt lines
/// of a syntax error (which echo the header) are dropped, the position and the expectation
/// kept, everything cut to 200 characters.
fn one_line(msg: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    for line in msg.lines() {
        let t = line.trim();
        // pest's excerpt: `  |`, `1 | {'descr': …`, `  |   ^---`
        let gutter = t
            .split_once('|')
            .is_some_and(|(before, _)| before.trim().bytes().all(|b| b.is_ascii_digit()));
        if t.is_empty() || gutter {
            continue;
        }
        let t = match t.split_once("-->") {
            Some((before, pos)) => {
                format!("{} at header line:column {}", before.trim(), pos.trim())
            }
            None => match t.strip_prefix("= ") {
                Some(expect) => format!("({expect})"),
                None => t.to_string(),
            },
        };
        parts.push(t);
    }
    shorten(&parts.join(" ").replace(": at header", " at header"), 200)
}

/// The first non-finite entry of `m` in row-major order, as `(row, col, value)` (0-based).
pub(crate) fn first_non_finite(m: &DMatrix<f64>) -> Option<(usize, usize, f64)> {
    if m.iter().all(|v| v.is_finite()) {
        return None;
    }
    (0..m.nrows())
        .flat_map(|i| (0..m.ncols()).map(move |j| (i, j)))
        .map(|(i, j)| (i, j, m[(i, j)]))
        .find(|(_, _, v)| !v.is_finite())
}

/// Encodes `m` as the bytes of a version-1.0 `.npy` file: dtype `'<f8'`, `fortran_order`
/// False, shape `(rows, cols)`, data in C (row-major) order. The header is padded to a
/// multiple of 16 bytes, as the format requires.
pub fn to_npy_bytes(m: &DMatrix<f64>) -> Vec<u8> {
    let shape = [m.nrows() as u64, m.ncols() as u64];
    let mut buf = Vec::with_capacity(128 + 8 * m.len());
    {
        let mut writer = npyz::WriteOptions::<f64>::new()
            .default_dtype()
            .shape(&shape)
            .writer(&mut buf)
            .begin_nd()
            .expect("writing an .npy header into a Vec cannot fail");
        for i in 0..m.nrows() {
            for j in 0..m.ncols() {
                writer
                    .push(&m[(i, j)])
                    .expect("writing into a Vec cannot fail");
            }
        }
        writer
            .finish()
            .expect("the number of values written matches the declared shape");
    }
    buf
}

/// Writes `m` to `path` as a C-order `'<f8'` `.npy` file (see [`to_npy_bytes`]), atomically
/// (temporary sibling file + rename, via [`write_atomic`]), creating the parent directory if
/// needed. Non-finite entries are written as they are; [`read_matrix`] refuses them.
pub fn write_matrix(path: &Path, m: &DMatrix<f64>) -> Result<(), GradflowError> {
    write_atomic(path, &to_npy_bytes(m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// The message of the error reading `p` gives.
    fn read_err(p: &Path) -> String {
        read_matrix(p).unwrap_err().to_string()
    }

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/npy")
            .join(name)
    }

    fn sample() -> DMatrix<f64> {
        DMatrix::from_row_slice(2, 3, &[1.0, -2.5, 1.0 / 3.0, 1e-300, f64::MAX, -0.0])
    }

    fn write_raw(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    /// An `.npy` file with an arbitrary header dictionary and payload, for malformed inputs.
    fn handmade_npy(dict: &str, payload: &[u8]) -> Vec<u8> {
        let mut text = dict.to_string();
        while !(10 + text.len() + 1).is_multiple_of(16) {
            text.push(' ');
        }
        text.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(text.len() as u16).to_le_bytes());
        out.extend_from_slice(text.as_bytes());
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn round_trip_preserves_every_bit_and_the_shape() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/m.npy");
        let m = sample();
        write_matrix(&p, &m).unwrap();
        let back = read_matrix(&p).unwrap();
        assert_eq!(back.shape(), (2, 3));
        for (a, b) in m.iter().zip(back.iter()) {
            assert_eq!(a.to_bits(), b.to_bits());
        }
    }

    #[test]
    fn written_header_is_c_order_little_endian_f8_and_16_byte_aligned() {
        let bytes = to_npy_bytes(&sample());
        assert_eq!(&bytes[..6], b"\x93NUMPY");
        let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        assert_eq!((10 + header_len) % 16, 0);
        let text = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
        assert!(text.contains("'descr': '<f8'"), "{text}");
        assert!(text.contains("'fortran_order': False"), "{text}");
        assert!(text.contains("'shape': (2, 3"), "{text}");
        // C order: the first data values are the first row.
        let first = f64::from_le_bytes(bytes[10 + header_len..18 + header_len].try_into().unwrap());
        let second =
            f64::from_le_bytes(bytes[18 + header_len..26 + header_len].try_into().unwrap());
        assert_eq!((first, second), (1.0, -2.5));
    }

    #[test]
    fn fortran_order_file_is_read_with_numpy_indexing() {
        let dir = tempfile::tempdir().unwrap();
        let mut buf = Vec::new();
        {
            let mut w = npyz::WriteOptions::<f64>::new()
                .default_dtype()
                .shape(&[2, 3])
                .order(Order::Fortran)
                .writer(&mut buf)
                .begin_nd()
                .unwrap();
            // Fortran order: column by column.
            for v in [11.0, 21.0, 12.0, 22.0, 13.0, 23.0] {
                w.push(&v).unwrap();
            }
            w.finish().unwrap();
        }
        let p = write_raw(dir.path(), "f.npy", &buf);
        let m = read_matrix(&p).unwrap();
        assert_eq!(
            m,
            DMatrix::from_row_slice(2, 3, &[11.0, 12.0, 13.0, 21.0, 22.0, 23.0])
        );
    }

    #[test]
    fn one_dimensional_array_becomes_a_column() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = handmade_npy(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }",
            &[1.0f64, 2.0, 3.0]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect::<Vec<_>>(),
        );
        let p = write_raw(dir.path(), "v.npy", &bytes);
        let m = read_matrix(&p).unwrap();
        assert_eq!(m, DMatrix::from_column_slice(3, 1, &[1.0, 2.0, 3.0]));
    }

    #[test]
    fn float32_file_is_rejected_naming_the_dtype_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut buf = Vec::new();
        {
            let mut w = npyz::WriteOptions::<f32>::new()
                .default_dtype()
                .shape(&[1, 2])
                .writer(&mut buf)
                .begin_nd()
                .unwrap();
            w.push(&1.0).unwrap();
            w.push(&2.0).unwrap();
            w.finish().unwrap();
        }
        let p = write_raw(dir.path(), "single.npy", &buf);
        let msg = read_err(&p);
        assert!(msg.contains("'<f4'"), "{msg}");
        assert!(msg.contains("single.npy"), "{msg}");
    }

    #[test]
    fn nan_entry_is_rejected_with_its_row_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = sample();
        m[(1, 2)] = f64::NAN;
        m[(1, 1)] = 7.0; // f64::MAX is finite; only (1, 2) is bad
        let p = dir.path().join("nan.npy");
        write_matrix(&p, &m).unwrap();
        let msg = read_err(&p);
        assert!(msg.contains("(1, 2)") && msg.contains("NaN"), "{msg}");
        assert!(msg.contains("nan.npy"), "{msg}");
    }

    #[test]
    fn infinite_entry_is_rejected_and_the_first_one_in_row_major_order_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = sample();
        m[(1, 0)] = f64::NEG_INFINITY;
        m[(0, 2)] = f64::INFINITY;
        let p = dir.path().join("inf.npy");
        write_matrix(&p, &m).unwrap();
        let msg = read_err(&p);
        assert!(msg.contains("(0, 2)") && msg.contains("inf"), "{msg}");
    }

    #[test]
    fn truncated_file_is_rejected_as_truncated() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = to_npy_bytes(&sample());
        let p = write_raw(dir.path(), "cut.npy", &bytes[..bytes.len() - 5]);
        let err = read_matrix(&p).unwrap_err();
        assert!(matches!(err, GradflowError::Io { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(
            msg.contains("truncated") && msg.contains("cut.npy"),
            "{msg}"
        );
    }

    #[test]
    fn file_cut_inside_the_header_is_rejected_as_malformed() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = to_npy_bytes(&sample());
        let p = write_raw(dir.path(), "head.npy", &bytes[..30]);
        let msg = read_err(&p);
        assert!(
            msg.contains("head.npy") && msg.contains("not a valid .npy"),
            "{msg}"
        );
    }

    #[test]
    fn a_malformed_header_is_reported_on_one_line_without_its_text() {
        let dir = tempfile::tempdir().unwrap();
        let dict = format!(
            "{{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), 'x': {}}}",
            "Z".repeat(5000)
        );
        let p = write_raw(dir.path(), "junk.npy", &handmade_npy(&dict, &[0u8; 48]));
        let msg = read_err(&p);
        assert!(!msg.contains('\n') && !msg.contains("ZZZZ"), "{msg}");
        assert!(
            msg.contains("junk.npy") && msg.contains("not a valid .npy"),
            "{msg}"
        );
        assert!(msg.len() < 500, "{msg}");
    }

    #[test]
    fn a_header_length_past_the_end_of_the_file_is_rejected_before_allocating_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = b"\x93NUMPY\x03\x00".to_vec();
        bytes.extend_from_slice(&u32::MAX.to_le_bytes());
        bytes.extend_from_slice(b"{'descr': '<f8'");
        let p = write_raw(dir.path(), "long_header.npy", &bytes);
        let msg = read_err(&p);
        assert!(msg.contains("header length"), "{msg}");
        let p = write_raw(dir.path(), "v9.npy", b"\x93NUMPY\x09\x00\x10\x00");
        let msg = read_err(&p);
        assert!(msg.contains("version 9.0"), "{msg}");
    }

    #[test]
    fn extra_bytes_after_the_data_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = to_npy_bytes(&sample());
        bytes.extend_from_slice(&[0u8; 8]);
        let p = write_raw(dir.path(), "long.npy", &bytes);
        let msg = read_err(&p);
        assert!(msg.contains("malformed"), "{msg}");
    }

    #[test]
    fn non_npy_file_and_missing_file_are_rejected_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = write_raw(dir.path(), "text.npy", b"x,y\n1,2\n");
        let msg = read_err(&p);
        assert!(
            msg.contains("text.npy") && msg.contains("not a valid .npy"),
            "{msg}"
        );

        let missing = dir.path().join("absent.npy");
        let err = read_matrix(&missing).unwrap_err();
        assert!(matches!(err, GradflowError::Io { .. }));
        assert!(err.to_string().contains("absent.npy"));
    }

    #[test]
    fn three_dimensional_and_empty_and_scalar_arrays_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let p = write_raw(
            dir.path(),
            "cube.npy",
            &handmade_npy(
                "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1, 1), }",
                &1.0f64.to_le_bytes(),
            ),
        );
        let msg = read_err(&p);
        assert!(
            msg.contains("3 dimensions") && msg.contains("[1, 1, 1]"),
            "{msg}"
        );

        let p = write_raw(
            dir.path(),
            "empty.npy",
            &handmade_npy(
                "{'descr': '<f8', 'fortran_order': False, 'shape': (0, 4), }",
                &[],
            ),
        );
        let msg = read_err(&p);
        assert!(msg.contains("empty"), "{msg}");

        let p = write_raw(
            dir.path(),
            "scalar.npy",
            &handmade_npy(
                "{'descr': '<f8', 'fortran_order': False, 'shape': (), }",
                &1.0f64.to_le_bytes(),
            ),
        );
        let msg = read_err(&p);
        assert!(msg.contains("0 dimensions"), "{msg}");
    }

    #[test]
    fn big_endian_float64_is_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let payload: Vec<u8> = [1.5f64, -4.0]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect();
        let p = write_raw(
            dir.path(),
            "be.npy",
            &handmade_npy(
                "{'descr': '>f8', 'fortran_order': False, 'shape': (1, 2), }",
                &payload,
            ),
        );
        assert_eq!(
            read_matrix(&p).unwrap(),
            DMatrix::from_row_slice(1, 2, &[1.5, -4.0])
        );
    }

    // Fixtures written by NumPy itself (see tests/fixtures/npy/make_fixtures.py); a[i, j] =
    // 10 i + j + 0.25 in every 2-D fixture.
    fn numpy_pattern(rows: usize, cols: usize) -> DMatrix<f64> {
        DMatrix::from_fn(rows, cols, |i, j| 10.0 * i as f64 + j as f64 + 0.25)
    }

    #[test]
    fn numpy_written_c_order_file_is_read_exactly() {
        let m = read_matrix(&fixture("c_order_2x3.npy")).unwrap();
        assert_eq!(m, numpy_pattern(2, 3));
    }

    #[test]
    fn numpy_written_fortran_order_file_is_read_exactly() {
        let m = read_matrix(&fixture("fortran_order_3x2.npy")).unwrap();
        assert_eq!(m, numpy_pattern(3, 2));
    }

    #[test]
    fn numpy_written_vector_is_read_as_column() {
        let m = read_matrix(&fixture("vector_4.npy")).unwrap();
        assert_eq!(
            m,
            DMatrix::from_column_slice(4, 1, &[0.5, -1.0, 2.0, 1.0 / 3.0])
        );
    }

    #[test]
    fn numpy_written_float32_and_int64_files_are_rejected_with_their_dtype() {
        let msg = read_err(&fixture("float32_2x2.npy"));
        assert!(msg.contains("'<f4'"), "{msg}");
        let msg = read_err(&fixture("int64_2x2.npy"));
        assert!(msg.contains("'<i8'"), "{msg}");
    }

    #[test]
    fn numpy_written_file_with_nan_is_rejected_with_position() {
        let msg = read_err(&fixture("nan_at_1_0.npy"));
        assert!(msg.contains("(1, 0)"), "{msg}");
    }

    #[test]
    fn our_encoding_decodes_to_the_same_matrix_as_the_numpy_written_file() {
        let ours = to_npy_bytes(&numpy_pattern(2, 3));
        let dir = tempfile::tempdir().unwrap();
        let p = write_raw(dir.path(), "ours.npy", &ours);
        assert_eq!(
            read_matrix(&p).unwrap(),
            read_matrix(&fixture("c_order_2x3.npy")).unwrap()
        );
    }
}
