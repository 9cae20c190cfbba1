// compiler/source: loading plan files and mapping byte offsets to lines and columns.
#include "compiler/source/source.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace tariff {

SourceFile::SourceFile(std::string path, std::string text) : path_(std::move(path)), text_(std::move(text)) {
  line_starts_.push_back(0);
  for (std::uint32_t i = 0; i < text_.size(); ++i) {
    if (text_[i] == '\n') line_starts_.push_back(i + 1);
  }
}

LineColumn SourceFile::At(std::uint32_t offset) const {
  offset = std::min<std::uint32_t>(offset, static_cast<std::uint32_t>(text_.size()));
  auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
  int line = static_cast<int>(it - line_starts_.begin());
  std::uint32_t start = line_starts_[static_cast<std::size_t>(line - 1)];
  int column = 1;
  for (std::uint32_t i = start; i < offset; ++i) {
    // Count code points: skip UTF-8 continuation bytes.
    if ((static_cast<unsigned char>(text_[i]) & 0xC0) != 0x80) ++column;
  }
  return {line, column};
}

std::uint32_t SourceFile::LineStart(int line) const {
  if (line < 1) return 0;
  if (line > line_count()) return static_cast<std::uint32_t>(text_.size());
  return line_starts_[static_cast<std::size_t>(line - 1)];
}

std::string_view SourceFile::Line(int line) const {
  if (line < 1 || line > line_count()) return {};
  std::uint32_t begin = LineStart(line);
  std::uint32_t end = line < line_count() ? line_starts_[static_cast<std::size_t>(line)] : static_cast<std::uint32_t>(text_.size());
  std::string_view view(text_.data() + begin, end - begin);
  while (!view.empty() && (view.back() == '\n' || view.back() == '\r')) view.remove_suffix(1);
  return view;
}

SourceManager::LoadResult SourceManager::Load(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::file_status status = fs::status(path, ec);
  if (ec || !fs::exists(status)) return {FileId{}, "cannot read `" + path + "`: no such file"};
  if (!fs::is_regular_file(status)) return {FileId{}, "cannot read `" + path + "`: not a regular file"};
  auto size = fs::file_size(path, ec);
  if (!ec && size > (64u << 20)) return {FileId{}, "cannot read `" + path + "`: larger than 64 MiB"};
  std::ifstream in(path, std::ios::binary);
  if (!in) return {FileId{}, "cannot read `" + path + "`: " + std::strerror(errno)};
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return {FileId{}, "cannot read `" + path + "`: read error"};
  return {AddFile(path, buffer.str()), ""};
}

FileId SourceManager::AddFile(std::string path, std::string text) {
  files_.emplace_back(std::move(path), std::move(text));
  return FileId{static_cast<std::int32_t>(files_.size() - 1)};
}

}  // namespace tariff
