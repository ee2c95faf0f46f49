//! Model and data: network shapes and weight layout, data sets, initial weights, `.npy` I/O.

pub mod data;
pub mod init;
pub mod net;
pub mod npy;
