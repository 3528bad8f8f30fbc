//! Answering client requests. (Being written.)
