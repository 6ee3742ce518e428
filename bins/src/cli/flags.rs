//! A daemon's flags, each stated once: [`daemon_flags!`] declares the clap
//! struct and merges every flag with its `--config` value and its default.

use super::config::{pick, ConfigFile};
use super::logging::LogFormat;

/// `--log-format`, else the file's `log_format`: how log lines are written.
pub fn log_format(flag: Option<String>, file: &ConfigFile) -> Result<LogFormat, String> {
    LogFormat::parse(&pick(flag, file.string("log_format"), String::new())?)
}

/// A flag's parsed value as clap leaves it: `Option<T>` (given once, the
/// last wins) or `Vec<T>` (a repeatable list, empty when not given).
pub trait FlagValue {
    type Value;
    /// The value if the flag was given, taken out of the parsed flags.
    fn take_given(&mut self) -> Option<Self::Value>;
}

impl<T> FlagValue for Option<T> {
    type Value = T;
    fn take_given(&mut self) -> Option<T> {
        self.take()
    }
}

impl<T> FlagValue for Vec<T> {
    type Value = Vec<T>;
    fn take_given(&mut self) -> Option<Vec<T>> {
        (!self.is_empty()).then(|| std::mem::take(self))
    }
}

/// Declares a daemon's flags and how they resolve into its options.
///
/// ```ignore
/// daemon_flags! {
///     /// nsqd: the daemon that receives, queues and delivers messages.
///     #[command(name = "nsqd", about = "...")]
///     pub struct NsqdFlags => Options {
///         /// number of messages to keep in memory (per topic/channel) [default: 10000]
///         #[arg(long)]
///         mem_queue_size: Option<i64>,
///         /// lookupd TCP address (may be given multiple times)
///         #[arg(long)]
///         lookupd_tcp_address: Vec<String> => lookupd_tcp_addresses "nsqlookupd_tcp_addresses",
///         /// log message prefix
///         #[arg(long)]
///         log_prefix: Option<String> => _,
///     }
/// }
/// ```
///
/// Each field is a flag (`--mem-queue-size`, with its doc and `#[arg]` as
/// written). `merge_into(&file, &mut options)` sets the option of the same
/// name from the flag if given, else from the config file's key of the same
/// name (read as the option's type, [`super::config::ConfigValue`]), else
/// leaves the default already in `options`; `=> field` names another
/// option (and key), `=> field "key"` another key too, and `=> _` a flag
/// resolved by hand. Every daemon also takes `--version`, `--config` and
/// the deprecated `--verbose` (no effect), and reads flags as Go's flag
/// package does (the last of a repeated flag wins); `config_file()` loads
/// the file.
macro_rules! daemon_flags {
    (
        $(#[$meta:meta])*
        pub struct $name:ident => $target:ty {
            $(
                $(#[$fmeta:meta])*
                $field:ident : $ty:ty $(=> $to:tt $($key:literal)?)?
            ),* $(,)?
        }
    ) => {
        #[derive(Debug, clap::Parser)]
        $(#[$meta])*
        // Go's flag package keeps the last of a repeated flag (lists append).
        #[command(args_override_self = true, disable_version_flag = true)]
        pub struct $name {
            /// print version string
            #[arg(long, action = clap::ArgAction::SetTrue)]
            pub version: bool,
            /// path to config file (TOML; command-line flags take precedence)
            #[arg(long)]
            pub config: Option<String>,
            $(
                $(#[$fmeta])*
                pub $field: $ty,
            )*
            /// [deprecated] has no effect, use --log-level
            #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", hide = true)]
            pub verbose: Option<bool>,
        }

        impl $name {
            /// The `--config` file (empty without one).
            fn config_file(&self) -> Result<$crate::cli::config::ConfigFile, String> {
                match &self.config {
                    Some(path) => $crate::cli::config::ConfigFile::load(path),
                    None => Ok($crate::cli::config::ConfigFile::default()),
                }
            }

            /// Sets every option not resolved by hand: the flag if given,
            /// else the config file's value, else the default in `into`.
            fn merge_into(
                &mut self,
                file: &$crate::cli::config::ConfigFile,
                into: &mut $target,
            ) -> Result<(), String> {
                $( $crate::cli::flags::daemon_flags!(@merge self file into $field $(=> $to $($key)?)?); )*
                Ok(())
            }
        }
    };
    (@merge $s:ident $file:ident $into:ident $field:ident => _) => {};
    (@merge $s:ident $file:ident $into:ident $field:ident) => {
        $crate::cli::flags::daemon_flags!(@merge $s $file $into $field => $field stringify!($field));
    };
    (@merge $s:ident $file:ident $into:ident $field:ident => $to:ident) => {
        $crate::cli::flags::daemon_flags!(@merge $s $file $into $field => $to stringify!($to));
    };
    (@merge $s:ident $file:ident $into:ident $field:ident => $to:ident $key:expr) => {
        let flag = $crate::cli::flags::FlagValue::take_given(&mut $s.$field);
        if let Some(v) = $file.flag_or_file(flag, $key)? {
            $into.$to = v;
        }
    };
}

pub(crate) use daemon_flags;
