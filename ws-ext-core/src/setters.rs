//! The `with_*` setters of `#[non_exhaustive]` configuration structs
//! (here and in the crates built on this one): one line per field instead
//! of one hand-written method each.

/// Implements by-value setters on a config struct:
///
/// ```
/// #[derive(Default)]
/// #[non_exhaustive]
/// pub struct Limits {
///     /// Most bytes.
///     pub max_bytes: usize,
/// }
/// ws_ext_core::config_setters!(Limits { with_max_bytes => max_bytes: usize });
/// assert_eq!(Limits::default().with_max_bytes(7).max_bytes, 7);
/// ```
#[macro_export]
macro_rules! config_setters {
    ($ty:ty { $($setter:ident => $field:ident: $t:ty),* $(,)? }) => {
        impl $ty {
            $(
                #[doc = concat!("Sets [`", stringify!($field), "`](Self::", stringify!($field), ").")]
                #[must_use]
                pub fn $setter(mut self, $field: $t) -> Self {
                    self.$field = $field;
                    self
                }
            )*
        }
    };
}
