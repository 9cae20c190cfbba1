// compiler/format: AST + comments -> canonical text (`tariff fmt`). Reads the tree built by
// compiler/parse and the comments it kept; depends on nothing after parsing.
//
// The canonical layout (docs/formatting.md has the same rules with an example):
//
//  * Indentation is two spaces a level: plan items at one level, the contents of `event`,
//    `subscription`, `test`, tier tables and `match` arms one level deeper than the line that
//    opened them. A closing `}` sits at the indentation of the line that holds its `{`.
//  * One item a line: one plan item, event field, tier, match arm or test statement a line.
//    Everything else of an item is joined onto its line with single spaces: `a * b`,
//    `x == "y"`, `f(a, b)`, `request.model`, `2.9%`, `25 bp`, `GB·h`, `"a", "b"`, `a = 1`.
//    A usage line keeps its fields inline: `usage e x 3 { a = 1, b = 2 }`; a usage without
//    fields has no braces; an empty block is `{}` (`subscription {}`, `event ping {}`).
//  * The formatter never reflows a charge by width; it keeps the author's choice at four
//    places only: a line break after `charge … =`, after `each EVENT:`, before the charge's
//    options (never after a tier table's `}`: options follow it on the same line), and before
//    an `allocated by …` option (after a `}` too).
//    A continuation line is indented one level deeper than the charge.
//  * Tier tables are aligned: every tier's price starts in one column, two spaces after the
//    longest `up to BOUND` of its table; a `beyond:` rule is the last row, its `last price` or
//    `error` in that column.
//  * Parentheses appear only where the tree needs them (`(a + b) * c`, `a - (b - c)`,
//    `not (a and b)`, `(a + b).field`, `-(-x)`); redundant ones are removed.
//  * Numbers, names, dates and units are kept as written (`1_000_000`, `0.20`, `GB*h` or
//    `GB·h`); strings are re-escaped (`\"`, `\\`, `\n`, `\t`); keywords take their canonical
//    order (`period N LENGTH anchor DATE timezone "ZONE"`).
//  * Blank lines: one blank line is kept where the source had one or more between two lines
//    (items, fields, tiers, arms, test statements or comments); none after a line that opens a
//    block or before a `}`. Plans are always separated by exactly one blank line.
//  * Comments are all kept, each exactly once and in source order. A comment with no code
//    before it on its line stays alone on a line, before the first output line that holds
//    code after it (indented like that line; one level deeper when that line is a closing
//    `}`); one inside a construct the formatter joins onto one line goes before that line,
//    unless the line already ends with an earlier comment (then it trails too, to keep the
//    order). A comment that followed code on its line goes at the end of the output line
//    holding that code, after two spaces (several are separated by one space); when a `//`
//    comment would be followed by another on one line, the later ones move to their own lines
//    below it. `//` comments lose trailing white space; block comments are kept verbatim
//    (CRLF becomes LF).
//  * The text ends with exactly one newline (an empty file stays empty) and has no trailing
//    white space outside block comments.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "compiler/ast/ast.h"
#include "compiler/parse/parse.h"

namespace tariff {

// Prints `file` in the canonical layout above. `comments` are those Parse returned for the
// same text, and `text` is that text: spans of nodes and comments index into it (numbers are
// reprinted from it as written). Guarantees, each tested in tests/unit/format_test.cc:
// idempotent (formatting the output again gives the same text), the output parses to a tree
// with the same ast::Dump, and every comment appears in the output exactly once.
// Does not check meaning: a plan with type errors is formatted like any other.
std::string Format(const ast::File& file, const std::vector<Comment>& comments, std::string_view text);

}  // namespace tariff
