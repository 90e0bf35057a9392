//! A WASIX guest: it calls two WASIX extensions to WASI preview1 directly (the current
//! directory and the thread id), so only a runtime that provides WASIX can run it. Runtimes
//! without WASIX refuse it when Apache reads the configuration.

#[cfg(target_os = "wasi")]
mod wasix {
    #[link(wasm_import_module = "wasix_32v1")]
    extern "C" {
        fn getcwd(path: *mut u8, path_len: *mut u32) -> u16;
        fn thread_id(tid: *mut u32) -> u16;
    }

    pub fn current_dir() -> Result<String, u16> {
        let mut buf = [0u8; 256];
        let mut len = buf.len() as u32;
        // SAFETY: buf is valid for len bytes, and len is a valid u32 the call updates.
        match unsafe { getcwd(buf.as_mut_ptr(), &mut len) } {
            0 => {
                let len = (len as usize).min(buf.len());
                let path = &buf[..len];
                // The length may or may not count a terminating NUL.
                let path = path.strip_suffix(b"\0").unwrap_or(path);
                Ok(String::from_utf8_lossy(path).into_owned())
            }
            errno => Err(errno),
        }
    }

    pub fn current_thread() -> Result<u32, u16> {
        let mut tid = 0;
        // SAFETY: tid is a valid u32 the call writes.
        match unsafe { thread_id(&mut tid) } {
            0 => Ok(tid),
            errno => Err(errno),
        }
    }
}

#[cfg(target_os = "wasi")]
fn main() {
    print!("Content-Type: text/plain\n\n");
    match wasix::current_dir() {
        Ok(dir) => println!("cwd: {dir}"),
        Err(errno) => println!("cwd: errno {errno}"),
    }
    match wasix::current_thread() {
        Ok(tid) => println!("thread: {tid}"),
        Err(errno) => println!("thread: errno {errno}"),
    }
}

#[cfg(not(target_os = "wasi"))]
fn main() {
    print!("Content-Type: text/plain\n\nnot a WASIX host\n");
}
