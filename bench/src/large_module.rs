//! A large WASI command for the compile-time measurement, generated so that its size is a
//! parameter and nothing multi-megabyte has to be built or committed.
//!
//! Its code looks like what compilers emit for ordinary programs: many mid-sized functions with
//! loops, branches, integer arithmetic of both widths, loads and stores, and calls between
//! functions. It is only compiled, never run.

use wasm_encoder::{
    BlockType, CodeSection, EntityType, ExportKind, ExportSection, Function, FunctionSection,
    ImportSection, Instruction, MemoryType, Module, TypeSection, ValType,
};

/// Straight-line blocks per function: about 1 KiB of code each.
const BLOCKS_PER_FUNCTION: u32 = 16;

/// A module of about `target_bytes` bytes, and how many functions it has.
pub fn generate(target_bytes: usize) -> (Vec<u8>, u32) {
    let functions = (target_bytes / function_size()).max(1) as u32;
    (build(functions), functions)
}

fn function_size() -> usize {
    let mut code = CodeSection::new();
    code.function(&body(1, 0));
    code.byte_len()
}

fn build(functions: u32) -> Vec<u8> {
    const FD_WRITE: u32 = 0;
    const WORKER: u32 = 1;
    const START: u32 = 2;
    let mut types = TypeSection::new();
    types.ty().function([ValType::I32; 4], [ValType::I32]);
    types.ty().function([ValType::I32; 2], [ValType::I32]);
    types.ty().function([], []);

    let mut imports = ImportSection::new();
    imports.import(
        "wasi_snapshot_preview1",
        "fd_write",
        EntityType::Function(FD_WRITE),
    );
    let imported = 1;

    let mut declared = FunctionSection::new();
    let mut code = CodeSection::new();
    for index in 0..functions {
        declared.function(WORKER);
        code.function(&body(index, imported));
    }
    declared.function(START);
    let mut start = Function::new([]);
    start.instruction(&Instruction::End);
    code.function(&start);

    let mut memories = wasm_encoder::MemorySection::new();
    memories.memory(MemoryType {
        minimum: 1,
        maximum: None,
        memory64: false,
        shared: false,
        page_size_log2: None,
    });
    let mut exports = ExportSection::new();
    exports.export("memory", ExportKind::Memory, 0);
    exports.export("_start", ExportKind::Func, imported + functions);

    let mut module = Module::new();
    module
        .section(&types)
        .section(&imports)
        .section(&declared)
        .section(&memories)
        .section(&exports)
        .section(&code);
    module.finish()
}

/// Function `index`: `(seed, rounds) -> i32`, a loop of varied blocks, some calling the
/// function before it.
fn body(index: u32, imported: u32) -> Function {
    use Instruction::*;
    const SEED: u32 = 0;
    const ROUNDS: u32 = 1;
    const ACC: u32 = 2;
    const J: u32 = 3;
    const WIDE: u32 = 4;
    let memarg = |offset| wasm_encoder::MemArg {
        offset,
        align: 2,
        target: wasm_encoder::MemArgTarget::Memory(0),
        ordering: None,
    };
    let mut f = Function::new([(2, ValType::I32), (1, ValType::I64)]);
    f.instruction(&LocalGet(SEED)).instruction(&LocalSet(ACC));
    f.instruction(&Block(BlockType::Empty))
        .instruction(&Loop(BlockType::Empty));
    f.instruction(&LocalGet(J))
        .instruction(&LocalGet(ROUNDS))
        .instruction(&I32GeU)
        .instruction(&BrIf(1));
    for block in 0..BLOCKS_PER_FUNCTION {
        let salt = index.wrapping_mul(2654435761).wrapping_add(block * 40503) as i32;
        // acc = acc * odd + (j ^ salt)
        f.instruction(&LocalGet(ACC))
            .instruction(&I32Const(salt | 1))
            .instruction(&I32Mul)
            .instruction(&LocalGet(J))
            .instruction(&I32Const(salt))
            .instruction(&I32Xor)
            .instruction(&I32Add)
            .instruction(&LocalSet(ACC));
        // mem[acc & 0xfff0] = acc; acc = rotl(mem[acc & 0x0ff0], acc)
        f.instruction(&LocalGet(ACC))
            .instruction(&I32Const(0xfff0))
            .instruction(&I32And)
            .instruction(&LocalGet(ACC))
            .instruction(&I32Store(memarg(u64::from(block) * 4)));
        f.instruction(&LocalGet(ACC))
            .instruction(&I32Const(0x0ff0))
            .instruction(&I32And)
            .instruction(&I32Load(memarg(0)))
            .instruction(&LocalGet(ACC))
            .instruction(&I32Rotl)
            .instruction(&LocalSet(ACC));
        // wide = wide + u64(acc) * salt
        f.instruction(&LocalGet(ACC))
            .instruction(&I64ExtendI32U)
            .instruction(&I64Const(i64::from(salt)))
            .instruction(&I64Mul)
            .instruction(&LocalGet(WIDE))
            .instruction(&I64Add)
            .instruction(&LocalSet(WIDE));
        // Every fourth block may call the previous function.
        if block % 4 == 3 && index > 0 {
            f.instruction(&LocalGet(ACC))
                .instruction(&I32Const(7))
                .instruction(&I32And)
                .instruction(&I32Eqz)
                .instruction(&If(BlockType::Empty))
                .instruction(&LocalGet(ACC))
                .instruction(&I32Const(1))
                .instruction(&Call(imported + index - 1))
                .instruction(&LocalSet(ACC))
                .instruction(&End);
        }
    }
    f.instruction(&LocalGet(J))
        .instruction(&I32Const(1))
        .instruction(&I32Add)
        .instruction(&LocalSet(J))
        .instruction(&Br(0))
        .instruction(&End)
        .instruction(&End);
    f.instruction(&LocalGet(ACC))
        .instruction(&LocalGet(WIDE))
        .instruction(&I32WrapI64)
        .instruction(&I32Add)
        .instruction(&End);
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_module_is_valid_and_about_the_size_asked_for() {
        let (wasm, functions) = generate(200_000);
        assert!(functions > 100, "{functions} functions");
        assert!(
            (150_000..250_000).contains(&wasm.len()),
            "{} bytes",
            wasm.len()
        );
        wasmparser_validate(&wasm);
    }

    fn wasmparser_validate(wasm: &[u8]) {
        let mut validator = wasmparser::Validator::new();
        if let Err(e) = validator.validate_all(wasm) {
            panic!("the generated module is invalid: {e}");
        }
    }
}
