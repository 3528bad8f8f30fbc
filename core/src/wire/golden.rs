//! Golden bytes captured from real peers (chronyd, ntpdig).
