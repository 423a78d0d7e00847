//! ws-deflate (in progress).
