// The two ways kiln writes files: replacing a whole file atomically (checkpoints, tokenizers,
// token caches, the metrics rewrite, the loss plot), and appending lines to a log.
#pragma once

#include <functional>
#include <span>
#include <string>
#include <string_view>

namespace kiln::io {

// Replaces `path` so that a crash at any moment leaves either the old file or the complete new
// one: writes "<path>.tmp" in the same folder, fsyncs it, renames it over `path`, and fsyncs
// the folder. On any failure the temporary file is removed, `path` is untouched, and a
// kiln::Error names the path and the reason ("<path>: expected to ..., got <strerror>").
// Fault points (io/fault_point.h), in order: after_temp_write, before_fsync, after_fsync,
// before_rename, after_rename.
void atomic_write(const std::string& path, std::string_view bytes);
// The same for a file made of several pieces, written one after the other without a copy.
void atomic_write(const std::string& path, std::span<const std::string_view> parts);

// The same, for files that a library writes itself (HDF5): `write_temp(temp_path)` must create
// and complete the file at temp_path (and close it), throwing on failure.
void atomic_write(const std::string& path,
                  const std::function<void(const std::string& temp_path)>& write_temp);

// Appends `bytes` to `path` (created if missing) with one write; an error (disk full, a
// read-only folder) is a kiln::Error naming the path and the reason. Not fsynced: a log line
// lost in a crash is rewritten when the run resumes.
void append_file(const std::string& path, std::string_view bytes);

}  // namespace kiln::io
