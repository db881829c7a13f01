//! Golden runner (in progress).
