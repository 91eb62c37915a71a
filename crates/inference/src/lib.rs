//! Fish species identification for sitga with an ONNX model run by ONNX
//! Runtime (`ort`).
//!
//! This crate is filled by the fish-identification issue; until then it
//! loads no model (and pretends to none).
