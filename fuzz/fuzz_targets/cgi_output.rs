//! A guest's output, cut into pieces: the CGI response parser and the streamed header path
//! must agree, and let no control character into a response's head
//! (`mod_wasm_core::serve::fuzzing::check_fuzz_input` says how the input is read).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mod_wasm_core::serve::fuzzing::check_fuzz_input(data));
