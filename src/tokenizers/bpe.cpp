// Byte-pair-encoding model (tokenizers/src/models/bpe): merges in both JSON forms ("a b" and
// ["a", "b"]), continuing_subword_prefix / end_of_word_suffix, unk with fuse_unk, byte_fallback
// and ignore_merges. Merges are applied lowest rank first, leftmost first, with HF's heap rules;
// results are cached per pre-token in a per-thread cache.
#include <atomic>
#include <queue>

#include "core/error.h"
#include "tokenizers/components.h"
#include "tokenizers/vocab.h"

namespace vlm::tokenizers {

Vocab Vocab::from_json(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) throw Error(str(where, ": 'vocab' must be an object of token -> id"));
  Vocab v;
  v.map_.reserve(j.size());
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0 || it.value().get<int64_t>() >= (1LL << 31))
      throw Error(str(where, ": vocab entry '", it.key(), "' has an invalid id ", it.value().dump()),
                  "ids are non-negative integers");
    v.add(it.key(), static_cast<uint32_t>(it.value().get<int64_t>()));
  }
  return v;
}

void Vocab::add(const std::string& token, uint32_t id) {
  map_[token] = id;
  if (id >= by_id_.size()) {
    by_id_.resize(static_cast<size_t>(id) + 1);
    has_id_.resize(static_cast<size_t>(id) + 1, false);
  }
  by_id_[id] = token;
  has_id_[id] = true;
}

namespace {

struct MergeInfo {
  uint32_t rank;
  uint32_t new_id;
};

struct Symbol {
  uint32_t id;
  int32_t prev;
  int32_t next;
  uint32_t len;  // bytes of the word covered; 0 once merged away
};

struct MergeCandidate {
  uint32_t rank;
  uint32_t pos;
  uint32_t new_id;
  bool operator<(const MergeCandidate& o) const {  // min-heap on (rank, pos)
    return rank != o.rank ? rank > o.rank : pos > o.pos;
  }
};

std::atomic<uint64_t> next_model_serial{1};

class Bpe : public Model {
 public:
  Bpe(const Json& j, const std::string& where) : serial_(next_model_serial++) {
    vocab_ = Vocab::from_json(json_at(j, "vocab", where), where + ".vocab");
    auto opt_string = [&](const char* key) -> std::optional<std::string> {
      if (!j.contains(key) || j[key].is_null()) return std::nullopt;
      if (!j[key].is_string()) throw Error(str(where, ": '", key, "' must be a string or null"));
      return j[key].get<std::string>();
    };
    unk_token_ = opt_string("unk_token");
    prefix_ = opt_string("continuing_subword_prefix");
    suffix_ = opt_string("end_of_word_suffix");
    if (prefix_ && prefix_->empty()) prefix_.reset();
    if (suffix_ && suffix_->empty()) suffix_.reset();
    fuse_unk_ = json_bool(j, "fuse_unk", false, where);
    byte_fallback_ = json_bool(j, "byte_fallback", false, where);
    ignore_merges_ = json_bool(j, "ignore_merges", false, where);
    if (j.contains("dropout") && !j["dropout"].is_null() && j["dropout"].get<double>() != 0.0)
      throw Error(str(where, ": BPE dropout is not supported (it makes encoding random)"), "set dropout to null");
    if (unk_token_) {
      const auto id = vocab_.find(*unk_token_);
      if (!id) throw Error(str(where, ": unk_token '", *unk_token_, "' is not in the vocabulary"));
      unk_id_ = *id;
    }
    load_merges(json_at(j, "merges", where), where + ".merges");
    if (byte_fallback_)
      for (int b = 0; b < 256; ++b) {
        char name[8];
        std::snprintf(name, sizeof(name), "<0x%02X>", b);
        byte_ids_[b] = vocab_.find(name).value_or(kNone);
      }
  }

  void tokenize(std::string_view word, std::vector<Token>& out) const override {
    if (word.empty()) return;
    if (ignore_merges_) {
      if (const auto id = vocab_.find(word)) {
        out.push_back({*id, 0, static_cast<uint32_t>(word.size())});
        return;
      }
    }
    Cache& cache = thread_cache();
    const auto hit = cache.find(word);
    if (hit != cache.end()) {
      append_cached(hit->second, out);
      return;
    }
    std::vector<CachedToken> result;
    merge_word(word, result);
    append_cached(result, out);
    if (word.size() < kMaxCachedWord) {
      if (cache.size() >= kCacheCapacity) cache.clear();
      cache.emplace(std::string(word), std::move(result));
    }
  }

  std::optional<uint32_t> token_to_id(std::string_view token) const override { return vocab_.find(token); }
  const std::string* id_to_token(uint32_t id) const override { return vocab_.token(id); }
  size_t vocab_size() const override { return vocab_.size(); }

 private:
  static constexpr uint32_t kNone = 0xFFFFFFFFu;
  static constexpr size_t kMaxCachedWord = 256;
  static constexpr size_t kCacheCapacity = 1 << 16;

  struct CachedToken {
    uint32_t id;
    uint32_t len;
  };
  using Cache = std::unordered_map<std::string, std::vector<CachedToken>, StringHash, std::equal_to<>>;

  Cache& thread_cache() const {
    thread_local std::unordered_map<uint64_t, Cache> caches;
    thread_local uint64_t last_serial = 0;
    thread_local Cache* last = nullptr;
    if (last_serial != serial_) {
      if (caches.size() > 8) caches.clear();  // models come and go in tests; keep memory bounded
      last = &caches[serial_];
      last_serial = serial_;
    }
    return *last;
  }

  static void append_cached(const std::vector<CachedToken>& toks, std::vector<Token>& out) {
    uint32_t pos = 0;
    for (const CachedToken& t : toks) {
      out.push_back({t.id, pos, pos + t.len});
      pos += t.len;
    }
  }

  static uint64_t key(uint32_t a, uint32_t b) { return (static_cast<uint64_t>(a) << 32) | b; }

  void load_merges(const Json& merges, const std::string& where) {
    if (!merges.is_array()) throw Error(str(where, ": 'merges' must be a list"));
    merges_.reserve(merges.size() * 2);
    const size_t prefix_len = prefix_ ? prefix_->size() : 0;
    for (size_t rank = 0; rank < merges.size(); ++rank) {
      const Json& m = merges[rank];
      std::string a, b;
      if (m.is_string()) {
        const std::string& line = m.get_ref<const std::string&>();
        const size_t sp = line.find(' ');
        if (sp == std::string::npos || line.find(' ', sp + 1) != std::string::npos)
          throw Error(str(where, "[", rank, "]: merge '", line, "' is not two tokens separated by one space"));
        a = line.substr(0, sp);
        b = line.substr(sp + 1);
      } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
        a = m[0].get<std::string>();
        b = m[1].get<std::string>();
      } else {
        throw Error(str(where, "[", rank, "]: a merge must be \"a b\" or [\"a\", \"b\"], got ", m.dump()));
      }
      const auto ia = vocab_.find(a), ib = vocab_.find(b);
      if (!ia) throw Error(str(where, "[", rank, "]: merge token '", a, "' is not in the vocabulary"));
      if (!ib) throw Error(str(where, "[", rank, "]: merge token '", b, "' is not in the vocabulary"));
      if (b.size() < prefix_len)
        throw Error(str(where, "[", rank, "]: merge token '", b, "' is shorter than the subword prefix"));
      const std::string merged = a + b.substr(prefix_len);
      const auto in = vocab_.find(merged);
      if (!in) throw Error(str(where, "[", rank, "]: merged token '", merged, "' is not in the vocabulary"));
      merges_[key(*ia, *ib)] = {static_cast<uint32_t>(rank), *in};
    }
  }

  void merge_word(std::string_view w, std::vector<CachedToken>& result) const {
    std::vector<Symbol> symbols;
    symbols.reserve(w.size());
    auto add = [&](uint32_t id, uint32_t len) {
      const auto n = static_cast<int32_t>(symbols.size());
      symbols.push_back({id, n - 1, -1, len});
      if (n > 0) symbols[static_cast<size_t>(n - 1)].next = n;
    };
    bool has_unk = false;
    CachedToken unk{0, 0};
    std::string scratch;
    size_t i = 0;
    while (i < w.size()) {
      const size_t start = i;
      i += utf8_len_from_lead(static_cast<unsigned char>(w[i]));
      const auto byte_len = static_cast<uint32_t>(i - start);
      std::string_view s = w.substr(start, byte_len);
      if ((prefix_ && start > 0) || (suffix_ && i == w.size())) {
        scratch.clear();
        if (prefix_ && start > 0) scratch += *prefix_;
        scratch += s;
        if (suffix_ && i == w.size()) scratch += *suffix_;
        s = scratch;
      }
      if (const auto id = vocab_.find(s)) {
        if (has_unk) {
          add(unk.id, unk.len);
          has_unk = false;
        }
        add(*id, byte_len);
        continue;
      }
      if (byte_fallback_) {
        bool all = true;
        for (const char ch : s) all = all && byte_ids_[static_cast<unsigned char>(ch)] != kNone;
        if (all) {
          for (const char ch : s) add(byte_ids_[static_cast<unsigned char>(ch)], 1);
          continue;
        }
      }
      if (unk_token_) {
        if (has_unk && fuse_unk_) {
          unk.len += byte_len;
        } else {
          if (has_unk) add(unk.id, unk.len);
          unk = CachedToken{unk_id_, byte_len};
          has_unk = true;
        }
      }
    }
    if (has_unk) add(unk.id, unk.len);

    std::priority_queue<MergeCandidate> queue;
    for (size_t k = 0; k + 1 < symbols.size(); ++k) {
      const auto it = merges_.find(key(symbols[k].id, symbols[k + 1].id));
      if (it != merges_.end()) queue.push({it->second.rank, static_cast<uint32_t>(k), it->second.new_id});
    }
    while (!queue.empty()) {
      const MergeCandidate top = queue.top();
      queue.pop();
      Symbol& cur = symbols[top.pos];
      if (cur.len == 0 || cur.next == -1) continue;
      const auto next_pos = static_cast<size_t>(cur.next);
      const Symbol right = symbols[next_pos];
      const auto it = merges_.find(key(cur.id, right.id));
      if (it == merges_.end() || it->second.new_id != top.new_id) continue;
      cur.id = top.new_id;
      cur.len += right.len;
      cur.next = right.next;
      symbols[next_pos].len = 0;
      if (right.next > -1) symbols[static_cast<size_t>(right.next)].prev = static_cast<int32_t>(top.pos);
      if (cur.prev >= 0) {
        const auto p = merges_.find(key(symbols[static_cast<size_t>(cur.prev)].id, cur.id));
        if (p != merges_.end()) queue.push({p->second.rank, static_cast<uint32_t>(cur.prev), p->second.new_id});
      }
      if (cur.next >= 0) {
        const auto n = merges_.find(key(cur.id, symbols[static_cast<size_t>(cur.next)].id));
        if (n != merges_.end()) queue.push({n->second.rank, top.pos, n->second.new_id});
      }
    }
    for (const Symbol& s : symbols)
      if (s.len != 0) result.push_back({s.id, s.len});
  }

  uint64_t serial_;
  Vocab vocab_;
  std::unordered_map<uint64_t, MergeInfo> merges_;
  std::optional<std::string> unk_token_, prefix_, suffix_;
  uint32_t unk_id_ = 0;
  bool fuse_unk_ = false, byte_fallback_ = false, ignore_merges_ = false;
  uint32_t byte_ids_[256] = {};
};

}  // namespace

std::unique_ptr<Model> make_bpe(const Json& j, const std::string& where) { return std::make_unique<Bpe>(j, where); }

}  // namespace vlm::tokenizers
