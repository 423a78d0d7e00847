//! wsx (in progress).
