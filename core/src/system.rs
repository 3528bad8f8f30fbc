//! System variables. (Being written.)
