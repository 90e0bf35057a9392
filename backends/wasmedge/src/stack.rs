//! A bound on how deep a guest's calls nest, which WasmEdge does not have.
//!
//! WasmEdge 0.14 limits neither its call stack nor the stack its compiled code runs on. Code
//! compiled ahead of time runs on the SDK's 2 MiB fiber stack, and a guest that recurses without
//! end reaches the stack's guard page, where WasmEdge's fault handler cannot run (it has no
//! stack of its own left): the process, an Apache child, dies. The interpreter keeps its frames
//! on the heap and grows without bound until the time limit stops it.
//!
//! So before WasmEdge sees a module, [`bound`] rewrites it to count its own stack: a global
//! holds an estimate of the bytes its frames take, each function adds its frame's estimate
//! on entry and traps once the sum passes [`BUDGET`], and its callers set the sum back when a
//! call returns. The estimate of a frame is a fixed overhead plus a slot for each local and
//! for each value the function's operand stack holds at most: what compiled code spills and
//! what the interpreter stores. A frame of WasmEdge's compiled code measured 58 % of its
//! estimate with no locals (112 bytes) and 17 % with a hundred, so the frames [`BUDGET`]
//! allows take at most about 600 KiB of the 2 MiB fiber stack, around the 512 KiB wasmtime
//! gives its guests by default; the rest is the margin for the host functions, which run on
//! the same stack. In the interpreter, a frame takes about its estimate of memory.
//!
//! Tail calls give their frame's estimate back before they leave. An exception thrown past a
//! frame would leave its estimate counted, but WasmEdge runs no module that uses exceptions.
//! The counter is exported as [`EXPORT`], so that a trap can be told to be the bound's.

use wasm_encoder::{BlockType, Encode, ExportKind, Instruction};
use wasmparser::{
    FuncValidatorAllocations, Operator, Parser, Payload, ValidPayload, Validator, WasmFeatures,
};

/// The estimated stack a run's frames may take together.
pub(crate) const BUDGET: u32 = 1 << 20;

/// The name the stack estimate is exported under.
pub(crate) const EXPORT: &str = "mod_wasm:stack-estimate";

/// A frame's estimate besides its slots. A frame of WasmEdge's compiled code takes 112 bytes
/// with no locals at all (return address, saved registers, its execution context).
const FRAME_OVERHEAD: u32 = 128;

/// The estimate of a local or an operand: the interpreter's size of a value (16 bytes), twice
/// what compiled code spills for a scalar.
const SLOT: u32 = 16;

/// A function that calls no other function of the module and whose frame is estimated at no
/// more than this is not counted: it cannot nest, and [`BUDGET`] leaves room for one.
const LEAF_ALLOWANCE: u32 = 16 << 10;

/// `wasm`, rewritten to trap when its estimated stack passes [`BUDGET`] (see the module's
/// documentation). `wasm` must be a valid module.
pub(crate) fn bound(wasm: &[u8]) -> Result<Vec<u8>, String> {
    Bounder::default()
        .rewrite(wasm)
        .map_err(|e| format!("cannot bound the module's call stack: {e}"))
}

/// The order of the sections a module may have, by section id (custom sections go anywhere).
fn section_rank(id: u8) -> u8 {
    // type, import, function, table, memory, tag, global, export, start, element, data count,
    // code, data
    const ORDER: [u8; 13] = [1, 2, 3, 4, 5, 13, 6, 7, 8, 9, 12, 10, 11];
    ORDER.iter().position(|&o| o == id).unwrap_or(0) as u8
}

const GLOBAL_SECTION: u8 = 6;
const EXPORT_SECTION: u8 = 7;
const CODE_SECTION: u8 = 10;

#[derive(Default)]
struct Bounder {
    out: wasm_encoder::Module,
    imported_functions: u32,
    imported_globals: u32,
    defined_globals: u32,
    global_written: bool,
    export_written: bool,
    code: Option<(wasm_encoder::CodeSection, u32)>,
    allocations: FuncValidatorAllocations,
}

impl Bounder {
    fn rewrite(mut self, wasm: &[u8]) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
        let mut validator = Validator::new_with_features(WasmFeatures::all());
        for payload in Parser::new(0).parse_all(wasm) {
            let payload = payload?;
            let valid = validator.payload(&payload)?;
            if let Some((id, _)) = payload.as_section() {
                if id != 0 {
                    self.write_missing_sections_before(section_rank(id));
                }
            }
            match &payload {
                Payload::ImportSection(imports) => {
                    for import in imports.clone() {
                        match import?.ty {
                            wasmparser::TypeRef::Func(_) => self.imported_functions += 1,
                            wasmparser::TypeRef::Global(_) => self.imported_globals += 1,
                            _ => {}
                        }
                    }
                    self.copy(wasm, &payload);
                }
                Payload::GlobalSection(globals) => {
                    self.defined_globals = globals.count();
                    self.write_global_section(globals.count(), entries(wasm, globals));
                }
                Payload::ExportSection(exports) => {
                    for export in exports.clone() {
                        if export?.name == EXPORT {
                            return Err(format!("the module already exports {EXPORT:?}").into());
                        }
                    }
                    self.write_export_section(exports.count(), entries(wasm, exports));
                }
                Payload::CodeSectionStart { count, .. } => {
                    self.code = Some((wasm_encoder::CodeSection::new(), *count));
                }
                Payload::CodeSectionEntry(body) => {
                    let ValidPayload::Func(function, _) = valid else {
                        unreachable!("a validated function body is a function to validate");
                    };
                    let allocations = std::mem::take(&mut self.allocations);
                    let mut function = function.into_validator(allocations);
                    let bounded = self.bound_function(wasm, body, &mut function)?;
                    self.allocations = function.into_allocations();
                    let (code, left) = self.code.as_mut().expect("a code section was started");
                    match bounded {
                        Some(bytes) => code.raw(&bytes),
                        None => code.raw(&wasm[body.range()]),
                    };
                    *left -= 1;
                    if *left == 0 {
                        let (code, _) = self.code.take().expect("a code section was started");
                        self.out.section(&code);
                    }
                }
                Payload::End(_) => self.write_missing_sections_before(u8::MAX),
                _ => self.copy(wasm, &payload),
            }
        }
        Ok(self.out.finish())
    }

    /// The index of the global that holds the stack estimate.
    fn counter(&self) -> u32 {
        self.imported_globals + self.defined_globals
    }

    fn copy(&mut self, wasm: &[u8], payload: &Payload<'_>) {
        if let Some((id, range)) = payload.as_section() {
            // A code section is rewritten entry by entry.
            if id != CODE_SECTION {
                self.out.section(&wasm_encoder::RawSection {
                    id,
                    data: &wasm[range],
                });
            }
        }
    }

    /// Adds the global and the export sections if the module has none and the next section
    /// (of `rank`) comes after them.
    fn write_missing_sections_before(&mut self, rank: u8) {
        if !self.global_written && rank > section_rank(GLOBAL_SECTION) {
            self.write_global_section(0, &[]);
        }
        if !self.export_written && rank > section_rank(EXPORT_SECTION) {
            self.write_export_section(0, &[]);
        }
    }

    /// The global section: the module's `count` globals (`entries`), then the counter.
    fn write_global_section(&mut self, count: u32, entries: &[u8]) {
        let mut counter = Vec::new();
        wasm_encoder::GlobalType {
            val_type: wasm_encoder::ValType::I32,
            mutable: true,
            shared: false,
        }
        .encode(&mut counter);
        wasm_encoder::ConstExpr::i32_const(0).encode(&mut counter);
        self.write_section(GLOBAL_SECTION, count, entries, &counter);
        self.global_written = true;
    }

    /// The export section: the module's `count` exports (`entries`), then the counter's.
    fn write_export_section(&mut self, count: u32, entries: &[u8]) {
        let mut export = Vec::new();
        EXPORT.encode(&mut export);
        ExportKind::Global.encode(&mut export);
        self.counter().encode(&mut export);
        self.write_section(EXPORT_SECTION, count, entries, &export);
        self.export_written = true;
    }

    /// Section `id` of `count` encoded `entries` and one more, `entry`.
    fn write_section(&mut self, id: u8, count: u32, entries: &[u8], entry: &[u8]) {
        let mut data = Vec::new();
        (count + 1).encode(&mut data);
        data.extend_from_slice(entries);
        data.extend_from_slice(entry);
        self.out
            .section(&wasm_encoder::RawSection { id, data: &data });
    }

    /// The body of a function that counts its frame, or `None` for a leaf small enough not
    /// to be counted. Validates the body on the way, which gives its operand stack's height.
    fn bound_function(
        &self,
        wasm: &[u8],
        body: &wasmparser::FunctionBody<'_>,
        function: &mut wasmparser::FuncValidator<wasmparser::ValidatorResources>,
    ) -> wasmparser::Result<Option<Vec<u8>>> {
        let locals = body.get_locals_reader()?;
        let local_groups = locals.get_count();
        let mut reader = body.get_binary_reader();
        function.read_locals(&mut reader)?;
        let locals_end = reader.original_position();
        let frame_base = function.len_locals();

        let mut edits = Vec::new();
        let mut height = 0;
        let mut operators = body.get_operators_reader()?;
        while !operators.eof() {
            let (operator, offset) = operators.read_with_offset()?;
            function.op(offset, &operator)?;
            height = height.max(function.operand_stack_height());
            match operator {
                Operator::Call { function_index } if function_index < self.imported_functions => {}
                Operator::Call { .. }
                | Operator::CallIndirect { .. }
                | Operator::CallRef { .. } => edits.push(Edit::SetBack {
                    after: operators.original_position(),
                }),
                Operator::ReturnCall { .. }
                | Operator::ReturnCallIndirect { .. }
                | Operator::ReturnCallRef { .. } => edits.push(Edit::GiveUp { before: offset }),
                _ => {}
            }
        }
        let estimate = (frame_base + height)
            .saturating_mul(SLOT)
            .saturating_add(FRAME_OVERHEAD)
            .min(BUDGET + 1);
        if edits.is_empty() && estimate <= LEAF_ALLOWANCE {
            return Ok(None);
        }

        // The frame's own local: the estimate with this frame.
        let mine = frame_base;
        let counter = self.counter();
        let mut out = Vec::new();
        (local_groups + 1).encode(&mut out);
        out.extend_from_slice(&wasm[locals.original_position()..locals_end]);
        1u32.encode(&mut out);
        wasm_encoder::ValType::I32.encode(&mut out);
        let estimate = estimate as i32;
        for instruction in [
            Instruction::GlobalGet(counter),
            Instruction::I32Const(estimate),
            Instruction::I32Add,
            Instruction::LocalTee(mine),
            Instruction::GlobalSet(counter),
            Instruction::LocalGet(mine),
            Instruction::I32Const(BUDGET as i32),
            Instruction::I32GtU,
            Instruction::If(BlockType::Empty),
            Instruction::Unreachable,
            Instruction::End,
        ] {
            instruction.encode(&mut out);
        }
        let mut copied = locals_end;
        for edit in edits {
            let (at, code) = match edit {
                Edit::SetBack { after } => (
                    after,
                    &[Instruction::LocalGet(mine), Instruction::GlobalSet(counter)][..],
                ),
                Edit::GiveUp { before } => (
                    before,
                    &[
                        Instruction::LocalGet(mine),
                        Instruction::I32Const(estimate),
                        Instruction::I32Sub,
                        Instruction::GlobalSet(counter),
                    ][..],
                ),
            };
            out.extend_from_slice(&wasm[copied..at]);
            copied = at;
            for instruction in code {
                instruction.encode(&mut out);
            }
        }
        out.extend_from_slice(&wasm[copied..body.range().end]);
        Ok(Some(out))
    }
}

/// Where a counted function's code changes, in the order of the body's bytes.
enum Edit {
    /// After a call to a function of the module: the callee left its estimate counted, the
    /// caller sets the count back to its own.
    SetBack { after: usize },
    /// Before a tail call, which replaces the frame: the caller takes its estimate off.
    GiveUp { before: usize },
}

/// The encoded entries of `section`, a section of `wasm`.
fn entries<'a, T>(wasm: &'a [u8], section: &wasmparser::SectionLimited<'_, T>) -> &'a [u8] {
    &wasm[section.original_position()..section.range().end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bound_wat(text: &str) -> Vec<u8> {
        let bounded = bound(&wat::parse_str(text).unwrap()).unwrap();
        Validator::new_with_features(WasmFeatures::all())
            .validate_all(&bounded)
            .expect("the bounded module is valid");
        bounded
    }

    /// The index of the global exported as the stack estimate.
    fn exported_estimate(wasm: &[u8]) -> Option<u32> {
        Parser::new(0)
            .parse_all(wasm)
            .find_map(|payload| match payload.unwrap() {
                Payload::ExportSection(exports) => exports
                    .into_iter()
                    .map(Result::unwrap)
                    .find(|export| export.name == EXPORT)
                    .map(|export| export.index),
                _ => None,
            })
    }

    /// The operators of the module's last function.
    fn last_function(wasm: &[u8]) -> Vec<String> {
        let body = Parser::new(0)
            .parse_all(wasm)
            .filter_map(|payload| match payload.unwrap() {
                Payload::CodeSectionEntry(body) => Some(body),
                _ => None,
            })
            .last()
            .unwrap();
        let mut operators = body.get_operators_reader().unwrap();
        let mut listed = Vec::new();
        while !operators.eof() {
            listed.push(format!("{:?}", operators.read().unwrap()));
        }
        listed
    }

    #[test]
    fn a_module_without_globals_or_exports_gets_both() {
        // The new sections go before the start section, in the order the format requires.
        let bounded = bound_wat("(module (func $f (call $f)) (start $f))");
        assert_eq!(exported_estimate(&bounded), Some(0));
    }

    #[test]
    fn custom_sections_are_kept_as_they_are() {
        // `wat` names `$double` in a "name" section.
        let bounded = bound_wat(
            r#"(module (func $double (param i32) (result i32) (i32.mul (local.get 0) (i32.const 2))))"#,
        );
        let names = Parser::new(0)
            .parse_all(&bounded)
            .find_map(|payload| match payload.unwrap() {
                Payload::CustomSection(section) if section.name() == "name" => {
                    Some(section.data().to_vec())
                }
                _ => None,
            })
            .expect("the name section is kept");
        let names = wasmparser::NameSectionReader::new(wasmparser::BinaryReader::new(&names, 0));
        let functions = names
            .into_iter()
            .find_map(|subsection| match subsection.unwrap() {
                wasmparser::Name::Function(map) => Some(map),
                _ => None,
            })
            .unwrap();
        let named: Vec<_> = functions.into_iter().map(|n| n.unwrap().name).collect();
        assert_eq!(named, ["double"]);
    }

    #[test]
    fn the_estimate_follows_the_modules_own_globals() {
        let bounded = bound_wat(
            r#"(module
                 (import "env" "g" (global i32))
                 (global $a (mut i64) (i64.const 1))
                 (global $b i32 (i32.const 2))
                 (func $f (export "f") (call $f)))"#,
        );
        assert_eq!(exported_estimate(&bounded), Some(3));
    }

    #[test]
    fn a_call_sets_the_estimate_back_and_a_tail_call_gives_the_frame_up() {
        let bounded = bound_wat(
            r#"(module
                 (func $g)
                 (func $f (param i32)
                   (call $g)
                   (return_call $f (local.get 0))))"#,
        );
        let operators = last_function(&bounded);
        let call = operators
            .iter()
            .position(|o| o.starts_with("Call "))
            .unwrap();
        assert_eq!(
            operators[call + 1..call + 3],
            [
                "LocalGet { local_index: 1 }",
                "GlobalSet { global_index: 0 }"
            ]
        );
        let tail = operators
            .iter()
            .position(|o| o.starts_with("ReturnCall "))
            .unwrap();
        assert_eq!(operators[tail - 4], "LocalGet { local_index: 1 }");
        assert!(operators[tail - 3].starts_with("I32Const"));
        assert_eq!(
            operators[tail - 2..tail],
            ["I32Sub", "GlobalSet { global_index: 0 }"]
        );
    }

    #[test]
    fn a_small_leaf_is_left_as_it_is() {
        let bounded = bound_wat(
            r#"(module
                 (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
                 (func (param i32) (result i32)
                   (call $exit (i32.const 0))
                   (i32.add (local.get 0) (i32.const 1))))"#,
        );
        assert_eq!(
            last_function(&bounded),
            [
                "I32Const { value: 0 }",
                "Call { function_index: 0 }",
                "LocalGet { local_index: 0 }",
                "I32Const { value: 1 }",
                "I32Add",
                "End"
            ]
        );
    }

    #[test]
    fn a_module_that_exports_the_name_already_is_refused() {
        let wasm = wat::parse_str(format!(
            r#"(module (global (export "{EXPORT}") i32 (i32.const 0)))"#
        ))
        .unwrap();
        let error = bound(&wasm).unwrap_err();
        assert!(error.contains(EXPORT), "{error}");
    }
}
