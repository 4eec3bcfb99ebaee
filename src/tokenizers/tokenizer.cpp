// The encode / decode pipeline of Tokenizer (tokenizers/src/tokenizer/mod.rs): added tokens,
// normalizer, pre-tokenizer and model per sequence, then truncation, post-processor and padding
// (HF's post_process), and decoding through the decoder with special tokens optionally skipped.
#include <algorithm>
#include <cstdio>
#include <fstream>

#include "core/error.h"
#include "tokenizers/impl.h"

namespace vlm::tokenizers {

std::optional<uint32_t> TokenizerImpl::token_to_id(std::string_view token) const {
  if (const auto id = added.find(token)) return id;
  return model->token_to_id(token);
}

const std::string* TokenizerImpl::id_to_token(uint32_t id) const {
  if (const std::string* t = added.token(id)) return t;
  return model->id_to_token(id);
}

namespace {

void push_token(Encoding& e, uint32_t id, const std::string* token, Range offsets, int64_t type_id) {
  e.ids.push_back(id);
  e.tokens.push_back(token != nullptr ? *token : std::string());
  e.offsets.emplace_back(offsets.start, offsets.end);
  e.type_ids.push_back(type_id);
}

// Tokens of one normalized non-added-token piece.
void tokenize_piece(const TokenizerImpl& t, NormalizedString piece, int64_t type_id, Encoding& e,
                    std::vector<NormalizedString>& splits, std::vector<Token>& tokens) {
  splits.clear();
  splits.push_back(std::move(piece));
  if (t.pre_tokenizer) t.pre_tokenizer->pre_tokenize(splits);
  for (const NormalizedString& s : splits) {
    tokens.clear();
    t.model->tokenize(s.get(), tokens);
    for (const Token& tok : tokens)
      push_token(e, tok.id, t.model->id_to_token(tok.id), s.original_range(tok.start, tok.end), type_id);
  }
}

void finish(Encoding& e, int32_t sequence_id) {
  e.attention_mask.assign(e.ids.size(), 1);
  e.special_tokens_mask.assign(e.ids.size(), 0);
  e.sequence_ids.assign(e.ids.size(), sequence_id);
}

}  // namespace

Encoding TokenizerImpl::encode_sequence(std::string_view text, int64_t type_id) const {
  require_utf8(text, "tokenizer input");
  Encoding e;
  e.ids.reserve(text.size() / 3 + 4);
  std::vector<AddedSplit> raw_splits, norm_splits;
  std::vector<NormalizedString> splits;
  std::vector<Token> tokens;
  added.split(text, /*normalized_set=*/false, raw_splits);
  for (const AddedSplit& rs : raw_splits) {
    if (rs.id) {
      push_token(e, *rs.id, id_to_token(*rs.id),
                 {static_cast<uint32_t>(rs.start), static_cast<uint32_t>(rs.end)}, type_id);
      continue;
    }
    if (rs.end == rs.start) continue;
    NormalizedString n(text.substr(rs.start, rs.end - rs.start), static_cast<uint32_t>(rs.start));
    if (normalizer) normalizer->normalize(n);
    if (!added.has(/*normalized_set=*/true)) {
      if (!n.empty()) tokenize_piece(*this, std::move(n), type_id, e, splits, tokens);
      continue;
    }
    norm_splits.clear();
    added.split(n.get(), /*normalized_set=*/true, norm_splits);
    for (const AddedSplit& ns : norm_splits) {
      if (ns.end == ns.start) continue;
      if (ns.id) {
        push_token(e, *ns.id, id_to_token(*ns.id), n.original_range(ns.start, ns.end), type_id);
      } else {
        tokenize_piece(*this, n.slice(ns.start, ns.end), type_id, e, splits, tokens);
      }
    }
  }
  finish(e, type_id == 0 ? 0 : 1);
  return e;
}

namespace {

void truncate_encoding(Encoding& e, size_t max_len, Side side) {
  if (e.ids.size() <= max_len) return;
  auto cut = [&](auto& v) {
    if (side == Side::kRight)
      v.resize(max_len);
    else
      v.erase(v.begin(), v.end() - static_cast<std::ptrdiff_t>(max_len));
  };
  cut(e.ids);
  cut(e.type_ids);
  cut(e.tokens);
  cut(e.attention_mask);
  cut(e.special_tokens_mask);
  cut(e.offsets);
  cut(e.sequence_ids);
}

void truncate_pair(Encoding& a, Encoding* b, TruncationOptions params, size_t n_added) {
  params.max_length = params.max_length > n_added ? params.max_length - n_added : 0;
  const size_t total = a.size() + (b != nullptr ? b->size() : 0);
  if (total <= params.max_length) return;
  const size_t to_remove = total - params.max_length;
  switch (params.strategy) {
    case TruncationStrategy::kLongestFirst:
      if (b != nullptr) {
        size_t n1 = a.size(), n2 = b->size();
        const bool swap = n1 > n2;
        if (swap) std::swap(n1, n2);
        n2 = n1 > params.max_length ? n1 : std::max(n1, params.max_length - n1);
        if (n1 + n2 > params.max_length) {
          n1 = params.max_length / 2;
          n2 = n1 + params.max_length % 2;
        }
        if (swap) std::swap(n1, n2);
        truncate_encoding(a, n1, params.side);
        truncate_encoding(*b, n2, params.side);
      } else {
        truncate_encoding(a, total - to_remove, params.side);
      }
      break;
    case TruncationStrategy::kOnlyFirst:
    case TruncationStrategy::kOnlySecond: {
      Encoding* target = params.strategy == TruncationStrategy::kOnlyFirst ? &a : b;
      if (target == nullptr || target->size() <= to_remove)
        throw Error(str("truncation: the sequence to truncate is too short to respect max_length ",
                        params.max_length + n_added),
                    "use the LongestFirst strategy or a larger max_length");
      truncate_encoding(*target, target->size() - to_remove, params.side);
      break;
    }
  }
}

void merge_into(Encoding& to, Encoding& from) {
  auto cat = [](auto& x, auto& y) { x.insert(x.end(), std::make_move_iterator(y.begin()), std::make_move_iterator(y.end())); };
  cat(to.ids, from.ids);
  cat(to.type_ids, from.type_ids);
  cat(to.tokens, from.tokens);
  cat(to.attention_mask, from.attention_mask);
  cat(to.special_tokens_mask, from.special_tokens_mask);
  cat(to.offsets, from.offsets);
  cat(to.sequence_ids, from.sequence_ids);
}

}  // namespace

namespace {

Encoding post_process(const TokenizerImpl& t, Encoding a, std::optional<Encoding> b, const EncodeOptions& o) {
  if (o.truncation) {
    const size_t n_added =
        o.add_special_tokens && t.post_processor ? t.post_processor->added_tokens(b.has_value()) : 0;
    truncate_pair(a, b ? &*b : nullptr, *o.truncation, n_added);
  }
  std::vector<Encoding> encodings;
  encodings.push_back(std::move(a));
  if (b) encodings.push_back(std::move(*b));
  for (size_t i = 0; i < encodings.size(); ++i)
    std::fill(encodings[i].sequence_ids.begin(), encodings[i].sequence_ids.end(), static_cast<int32_t>(i));
  if (t.post_processor) t.post_processor->process(encodings, o.add_special_tokens);
  Encoding out = std::move(encodings[0]);
  for (size_t i = 1; i < encodings.size(); ++i) merge_into(out, encodings[i]);
  return out;
}

void pad_batch(const TokenizerImpl& t, std::vector<Encoding>& batch, const PaddingOptions& p) {
  size_t target = 0;
  if (p.length) {
    target = *p.length;
  } else {
    for (const Encoding& e : batch) target = std::max(target, e.size());
  }
  if (p.pad_to_multiple_of > 0 && target % p.pad_to_multiple_of != 0)
    target += p.pad_to_multiple_of - target % p.pad_to_multiple_of;
  std::optional<int64_t> pad_id = p.pad_id;
  if (!pad_id) pad_id = t.pad_id ? t.pad_id : t.eos_id;
  if (!pad_id)
    throw Error(str(t.origin, ": padding needs a pad token and the tokenizer has neither a pad nor an eos token"),
                "give PaddingOptions::pad_id");
  std::string pad_token;
  if (const std::string* s = t.id_to_token(static_cast<uint32_t>(*pad_id))) pad_token = *s;
  for (Encoding& e : batch) {
    if (e.size() >= target) continue;
    const size_t n = target - e.size();
    auto pad = [&](auto& v, auto value) {
      if (p.side == Side::kRight)
        v.insert(v.end(), n, value);
      else
        v.insert(v.begin(), n, value);
    };
    pad(e.ids, *pad_id);
    pad(e.type_ids, p.pad_type_id);
    pad(e.tokens, pad_token);
    pad(e.attention_mask, int64_t{0});
    pad(e.special_tokens_mask, int64_t{1});
    pad(e.offsets, std::pair<size_t, size_t>{0, 0});
    pad(e.sequence_ids, int32_t{-1});
  }
}

EncodeOptions defaults_of(const TokenizerImpl& t, bool add_special_tokens) {
  EncodeOptions o;
  o.add_special_tokens = add_special_tokens;
  o.truncation = t.truncation;
  o.padding = t.padding;
  return o;
}

}  // namespace

Encoding Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  return encode(text, defaults_of(*impl_, add_special_tokens));
}

Encoding Tokenizer::encode(std::string_view text, const EncodeOptions& options) const {
  std::vector<Encoding> one;
  one.push_back(post_process(*impl_, impl_->encode_sequence(text, 0), std::nullopt, options));
  if (options.padding && options.padding->length) pad_batch(*impl_, one, *options.padding);
  return std::move(one[0]);
}

Encoding Tokenizer::encode_pair(std::string_view first, std::string_view second, bool add_special_tokens) const {
  const EncodeOptions o = defaults_of(*impl_, add_special_tokens);
  std::vector<Encoding> one;
  one.push_back(post_process(*impl_, impl_->encode_sequence(first, 0), impl_->encode_sequence(second, 1), o));
  if (o.padding && o.padding->length) pad_batch(*impl_, one, *o.padding);
  return std::move(one[0]);
}

std::vector<Encoding> Tokenizer::encode_batch(const std::vector<std::string>& texts, const EncodeOptions& options) const {
  std::vector<Encoding> out;
  out.reserve(texts.size());
  for (const std::string& t : texts) out.push_back(post_process(*impl_, impl_->encode_sequence(t, 0), std::nullopt, options));
  if (options.padding) pad_batch(*impl_, out, *options.padding);
  return out;
}

std::vector<Encoding> Tokenizer::encode_pair_batch(const std::vector<std::pair<std::string, std::string>>& pairs,
                                                   const EncodeOptions& options) const {
  std::vector<Encoding> out;
  out.reserve(pairs.size());
  for (const auto& [a, b] : pairs)
    out.push_back(post_process(*impl_, impl_->encode_sequence(a, 0), impl_->encode_sequence(b, 1), options));
  if (options.padding) pad_batch(*impl_, out, *options.padding);
  return out;
}

std::string Tokenizer::decode(const std::vector<int64_t>& ids, bool skip_special_tokens) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (const int64_t id : ids) {
    if (id < 0 || id > 0xFFFFFFFFLL) continue;  // HF skips ids it does not know
    const auto uid = static_cast<uint32_t>(id);
    const std::string* t = impl_->id_to_token(uid);
    if (t == nullptr) continue;
    if (skip_special_tokens && impl_->added.is_special(uid)) continue;
    tokens.push_back(*t);
  }
  if (!impl_->decoder) {
    std::string out;
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (i > 0) out.push_back(' ');
      out.append(tokens[i]);
    }
    return out;
  }
  impl_->decoder->decode_chain(tokens);
  std::string out;
  for (const std::string& t : tokens) out += t;
  return out;
}

std::vector<std::string> Tokenizer::decode_batch(const std::vector<std::vector<int64_t>>& batch,
                                                 bool skip_special_tokens) const {
  std::vector<std::string> out;
  out.reserve(batch.size());
  for (const auto& ids : batch) out.push_back(decode(ids, skip_special_tokens));
  return out;
}

std::optional<int64_t> Tokenizer::token_to_id(std::string_view token) const {
  const auto id = impl_->token_to_id(token);
  if (!id) return std::nullopt;
  return *id;
}

std::string Tokenizer::id_to_token(int64_t id) const {
  const std::string* t = id >= 0 && id <= 0xFFFFFFFFLL ? impl_->id_to_token(static_cast<uint32_t>(id)) : nullptr;
  if (t == nullptr) throw Error(str(impl_->origin, ": token id ", id, " is not in the vocabulary"));
  return *t;
}

int64_t Tokenizer::vocab_size() const {
  int64_t n = static_cast<int64_t>(impl_->model->vocab_size());
  for (const AddedToken& t : impl_->added.tokens())
    if (!impl_->model->token_to_id(t.content)) ++n;
  return std::max<int64_t>(n, impl_->added.max_id_plus_one());
}

bool Tokenizer::is_special_id(int64_t id) const {
  return id >= 0 && id <= 0xFFFFFFFFLL && impl_->added.is_special(static_cast<uint32_t>(id));
}

std::optional<int64_t> Tokenizer::pad_token_id() const { return impl_->pad_id; }
std::optional<int64_t> Tokenizer::eos_token_id() const { return impl_->eos_id; }
std::optional<int64_t> Tokenizer::bos_token_id() const { return impl_->bos_id; }
std::optional<int64_t> Tokenizer::unk_token_id() const { return impl_->unk_id; }
const std::optional<std::string>& Tokenizer::chat_template() const { return impl_->chat_template; }
const std::string& Tokenizer::origin() const { return impl_->origin; }

std::string Tokenizer::to_json_string() const { return impl_->doc.dump(2, ' ', false, Json::error_handler_t::strict); }

void Tokenizer::save(const std::string& path) const {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw FileError(path, "cannot write file");
    out << to_json_string();
    if (!out.flush()) throw FileError(path, "write failed (disk full?)");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) throw FileError(path, "cannot rename the temporary file into place");
}

}  // namespace vlm::tokenizers
