//! Helpers shared by the benchmarks: reading what a benchmark program printed, summarising
//! repetitions, and writing tables and charts.

pub mod chart;
pub mod report;
pub mod result;
