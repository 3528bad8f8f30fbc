//! The NTP packet codec. (Being written.)
