// HTML text escaping, one rule for the report's HTML and the plots' SVG: & < > " ' become entities,
// so escaped text is safe in element content and in single- or double-quoted attributes.
#pragma once

#include <string>
#include <string_view>

namespace vlm::eval {

std::string html_escape(std::string_view text);

}  // namespace vlm::eval
