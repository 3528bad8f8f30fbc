//! Property tests of the codec.
