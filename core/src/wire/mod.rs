//! NSQ's bytes on the wire: names, messages, frames, the protocol V2
//! command parser and IDENTIFY.

pub mod command;
pub mod error;
pub mod frame;
pub mod goquote;
pub mod identify;
pub mod message;
pub mod names;

pub use command::{Command, CommandParser, Limits, RawCommand};
pub use error::ClientError;
pub use frame::{Frame, FrameDecoder, FrameType};
pub use message::{Message, MessageId};
