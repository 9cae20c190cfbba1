// compiler/source: the text of plan files and positions within it. Every later phase names a
// place in a plan with a Span (file + byte offsets); line and column are computed only when a
// diagnostic is rendered.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace tariff {

// Dense id of a file within one SourceManager.
struct FileId {
  std::int32_t index = -1;
  bool valid() const { return index >= 0; }
  friend bool operator==(FileId, FileId) = default;
  friend auto operator<=>(FileId, FileId) = default;
};

// A half-open byte range [begin, end) in one file.
struct Span {
  FileId file;
  std::uint32_t begin = 0;
  std::uint32_t end = 0;
  friend bool operator==(const Span&, const Span&) = default;
};

// 1-based line; 1-based column counted in Unicode code points (what editors show).
struct LineColumn {
  int line = 1;
  int column = 1;
};

// One file's text with a table of line starts. Immutable once made.
class SourceFile {
 public:
  SourceFile(std::string path, std::string text);

  // The path as given by the user (diagnostics print it as is).
  const std::string& path() const { return path_; }
  const std::string& text() const { return text_; }
  int line_count() const { return static_cast<int>(line_starts_.size()); }

  // Line and column of byte `offset` (clamped to the end of the text).
  LineColumn At(std::uint32_t offset) const;
  // The text of 1-based line `line` without its line break ("" past the end).
  std::string_view Line(int line) const;
  // Byte offset where 1-based `line` starts.
  std::uint32_t LineStart(int line) const;

 private:
  std::string path_;
  std::string text_;
  std::vector<std::uint32_t> line_starts_;
};

// Owns the files of one run. References to SourceFile stay valid while the manager lives.
class SourceManager {
 public:
  struct LoadResult {
    FileId file;
    std::string error;  // empty on success: "cannot read `x`: No such file or directory"
    bool ok() const { return error.empty(); }
  };

  // Reads `path` whole. Fails (never throws) for a missing, unreadable or non-regular file, or
  // one larger than 64 MiB (a plan never is).
  LoadResult Load(const std::string& path);
  // Registers text that did not come from disk (tests, stdin).
  FileId AddFile(std::string path, std::string text);

  const SourceFile& file(FileId id) const { return files_[static_cast<std::size_t>(id.index)]; }
  std::size_t size() const { return files_.size(); }

 private:
  std::deque<SourceFile> files_;  // deque: references stay valid as files are added
};

}  // namespace tariff
