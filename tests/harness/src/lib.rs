//! What Deepwork's tests share: real servers started and stopped by the tests.

pub mod synapse;
