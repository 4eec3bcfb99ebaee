// The self-contained page `vlm serve` shows at `/` (no CDN, no build step): drop or pick an image,
// ask, watch the answer stream; search the index by text; the model's capabilities.
#pragma once

#include <string>

namespace vlm::serve {

const std::string& web_page_html();

}  // namespace vlm::serve
