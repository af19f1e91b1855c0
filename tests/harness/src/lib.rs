//! What Deepwork's tests share: real servers started and stopped by the tests, and,
//! where the real service cannot run here, contract servers written from its docs.

pub mod desktop;
pub mod mattermost;
pub mod prosody;
pub mod pumble;
pub mod slack;
pub mod synapse;
pub mod teams;
