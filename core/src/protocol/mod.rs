//! One client connection of nsqd (protocol V2) as a sans-IO machine
//! ([`Session`]), and what it asks of the broker ([`Op`]).

pub mod op;
pub mod session;

pub use op::{Op, OpResult};
pub use session::{Changes, Output, Session, UpgradeStep, Upgraded};
