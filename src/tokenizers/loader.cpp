// Loading: tokenizer.json sections into pipeline objects, tokenizer_config.json's special tokens
// and chat template, and the folder probing of Tokenizer::from_path. JSON errors from the
// parser are rethrown naming the file.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "tokenizers/impl.h"

namespace vlm::tokenizers {

namespace fs = std::filesystem;

const Json& json_at(const Json& j, const char* key, const std::string& where) {
  if (!j.is_object() || !j.contains(key)) throw Error(str(where, ": missing key '", key, "'"));
  return j[key];
}

std::string json_string(const Json& j, const char* key, const std::string& where) {
  const Json& v = json_at(j, key, where);
  if (!v.is_string()) throw Error(str(where, ": '", key, "' must be a string, got ", v.dump()));
  return v.get<std::string>();
}

bool json_bool(const Json& j, const char* key, bool fallback, const std::string& where) {
  if (!j.is_object() || !j.contains(key) || j[key].is_null()) return fallback;
  if (!j[key].is_boolean()) throw Error(str(where, ": '", key, "' must be true or false, got ", j[key].dump()));
  return j[key].get<bool>();
}

Pattern json_pattern(const Json& j, const std::string& where) {
  if (j.is_object() && j.contains("Regex") && j["Regex"].is_string()) return Pattern::regex(j["Regex"].get<std::string>());
  if (j.is_object() && j.contains("String") && j["String"].is_string())
    return Pattern::literal(j["String"].get<std::string>());
  if (j.is_string()) return Pattern::literal(j.get<std::string>());
  throw Error(str(where, ": a pattern must be {\"Regex\": ...} or {\"String\": ...}, got ", j.dump()));
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(path, "cannot open file");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

namespace {

Side parse_side(const Json& v, const std::string& where) {
  const std::string s = v.is_string() ? v.get<std::string>() : "";
  if (s == "Right") return Side::kRight;
  if (s == "Left") return Side::kLeft;
  throw Error(str(where, ": direction must be \"Left\" or \"Right\", got ", v.dump()));
}

void load_truncation_padding(TokenizerImpl& impl, const Json& doc, const std::string& origin) {
  if (doc.contains("truncation") && !doc["truncation"].is_null()) {
    const Json& t = doc["truncation"];
    const std::string where = origin + ": truncation";
    TruncationOptions o;
    o.max_length = t.value("max_length", size_t{512});
    if (t.contains("direction")) o.side = parse_side(t["direction"], where);
    const std::string strategy = t.value("strategy", std::string("LongestFirst"));
    if (strategy == "LongestFirst")
      o.strategy = TruncationStrategy::kLongestFirst;
    else if (strategy == "OnlyFirst")
      o.strategy = TruncationStrategy::kOnlyFirst;
    else if (strategy == "OnlySecond")
      o.strategy = TruncationStrategy::kOnlySecond;
    else
      throw Error(str(where, ": unknown strategy '", strategy, "'"));
    impl.truncation = o;
  }
  if (doc.contains("padding") && !doc["padding"].is_null()) {
    const Json& p = doc["padding"];
    const std::string where = origin + ": padding";
    PaddingOptions o;
    if (p.contains("direction")) o.side = parse_side(p["direction"], where);
    if (p.contains("strategy") && p["strategy"].is_object() && p["strategy"].contains("Fixed"))
      o.length = p["strategy"]["Fixed"].get<size_t>();
    if (p.contains("pad_to_multiple_of") && !p["pad_to_multiple_of"].is_null())
      o.pad_to_multiple_of = p["pad_to_multiple_of"].get<size_t>();
    if (p.contains("pad_id")) o.pad_id = p["pad_id"].get<int64_t>();
    o.pad_type_id = p.value("pad_type_id", int64_t{0});
    impl.padding = o;
  }
}

// A special-token entry of tokenizer_config.json: "tok", {"content": "tok", ...} or null.
std::optional<std::string> config_token(const Json& config, const char* key) {
  if (!config.contains(key)) return std::nullopt;
  const Json& v = config[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return std::nullopt;
}

}  // namespace

std::shared_ptr<TokenizerImpl> load_tokenizer_json(Json doc, const std::string& origin) {
  if (!doc.is_object()) throw Error(str(origin, ": a tokenizer.json must be a JSON object"));
  auto impl = std::make_shared<TokenizerImpl>();
  impl->origin = origin;
  try {
    auto section = [&](const char* key) -> const Json& {
      static const Json kNull;
      return doc.contains(key) ? doc[key] : kNull;
    };
    impl->normalizer = make_normalizer(section("normalizer"), origin + ": normalizer");
    impl->pre_tokenizer = make_pre_tokenizer(section("pre_tokenizer"), origin + ": pre_tokenizer");
    impl->model = make_model(json_at(doc, "model", origin), origin + ": model");
    impl->post_processor = make_post_processor(section("post_processor"), origin + ": post_processor");
    impl->decoder = make_decoder(section("decoder"), origin + ": decoder");
    load_truncation_padding(*impl, doc, origin);
    const Json& added = section("added_tokens");
    if (!added.is_null() && !added.is_array()) throw Error(str(origin, ": 'added_tokens' must be a list"));
    for (size_t k = 0; k < added.size(); ++k) {
      const Json& a = added[k];
      const std::string where = str(origin, ": added_tokens[", k, "]");
      AddedToken t;
      t.content = json_string(a, "content", where);
      const Json& id = json_at(a, "id", where);
      if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= (1LL << 31))
        throw Error(str(where, ": 'id' must be a non-negative integer, got ", id.dump()));
      // HF re-derives the id (the file's id only draws a warning): the token's id if the added
      // vocabulary or the model already has it, else the next id after the model and added ids.
      if (const auto existing = impl->token_to_id(t.content)) {
        t.id = *existing;
      } else {
        const auto vocab = static_cast<uint32_t>(impl->model->vocab_size());
        const uint32_t next = impl->added.max_id_plus_one();
        t.id = next == 0 ? vocab : (next - 1 >= vocab || vocab == 0 ? next : vocab);
      }
      t.single_word = json_bool(a, "single_word", false, where);
      t.lstrip = json_bool(a, "lstrip", false, where);
      t.rstrip = json_bool(a, "rstrip", false, where);
      t.normalized = json_bool(a, "normalized", true, where);
      t.special = json_bool(a, "special", false, where);
      if (t.content.empty()) throw Error(str(where, ": empty token content"));
      impl->added.add(std::move(t));
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(str(origin, ": unexpected JSON value: ", e.what()));
  }
  // Well-known defaults when no tokenizer_config.json says otherwise.
  auto known = [&](std::initializer_list<const char*> names) -> std::optional<int64_t> {
    for (const char* n : names)
      if (const auto id = impl->token_to_id(n)) return *id;
    return std::nullopt;
  };
  impl->pad_id = known({"[PAD]", "<pad>", "<|pad|>"});
  impl->unk_id = known({"[UNK]", "<unk>"});
  impl->bos_id = known({"<s>", "<|begin_of_text|>", "[CLS]"});
  impl->eos_id = known({"</s>", "<|endoftext|>", "<|end_of_text|>", "[SEP]"});
  impl->doc = std::move(doc);
  return impl;
}

void apply_tokenizer_config(TokenizerImpl& impl, const std::string& config_path) {
  if (!fs::exists(config_path)) return;
  Json config;
  try {
    config = Json::parse(read_file(config_path));
  } catch (const nlohmann::json::exception& e) {
    throw FileError(config_path, str("invalid JSON: ", e.what()));
  }
  if (!config.is_object()) throw FileError(config_path, "expected a JSON object");
  auto resolve = [&](const char* key, std::optional<int64_t>& slot) {
    if (!config.contains(key)) return;
    if (config[key].is_null()) {
      slot.reset();
      return;
    }
    const auto tok = config_token(config, key);
    if (!tok) return;
    const auto id = impl.token_to_id(*tok);
    if (!id) throw FileError(config_path, str(key, " '", *tok, "' is not in the tokenizer's vocabulary"));
    slot = *id;
  };
  resolve("bos_token", impl.bos_id);
  resolve("eos_token", impl.eos_id);
  resolve("pad_token", impl.pad_id);
  resolve("unk_token", impl.unk_id);
  if (config.contains("chat_template")) {
    const Json& t = config["chat_template"];
    if (t.is_string()) {
      impl.chat_template = t.get<std::string>();
    } else if (t.is_array()) {  // [{"name": "default", "template": "..."}, ...]
      for (const Json& e : t)
        if (e.is_object() && e.value("name", std::string()) == "default" && e.contains("template") &&
            e["template"].is_string())
          impl.chat_template = e["template"].get<std::string>();
    }
  }
}

Tokenizer Tokenizer::from_json_string(std::string_view json, const std::string& origin) {
  Json doc;
  try {
    doc = Json::parse(json);
  } catch (const nlohmann::json::exception& e) {
    throw Error(str(origin, ": invalid JSON: ", e.what()));
  }
  return Tokenizer(load_tokenizer_json(std::move(doc), origin));
}

Tokenizer Tokenizer::from_path(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw FileError(path, "no such file or folder", "give a model folder or a tokenizer.json");
  std::string json_path, config_path;
  if (fs::is_directory(path, ec)) {
    const fs::path dir(path);
    config_path = (dir / "tokenizer_config.json").string();
    json_path = (dir / "tokenizer.json").string();
    if (!fs::exists(json_path)) {
      Json config = Json::object();
      if (fs::exists(config_path)) {
        try {
          config = Json::parse(read_file(config_path));
        } catch (const nlohmann::json::exception& e) {
          throw FileError(config_path, str("invalid JSON: ", e.what()));
        }
      }
      Json doc;
      std::string origin;
      if (fs::exists(dir / "vocab.txt")) {
        origin = (dir / "vocab.txt").string();
        doc = bert_json_from_vocab_txt(origin, config);
      } else if (fs::exists(dir / "vocab.json") && fs::exists(dir / "merges.txt")) {
        origin = (dir / "vocab.json").string();
        doc = gpt2_json_from_vocab_merges(origin, (dir / "merges.txt").string(), config);
      } else {
        throw FileError(path, "no tokenizer.json, vocab.txt or vocab.json + merges.txt in this folder",
                        "a Hugging Face model folder has one of them");
      }
      auto impl = load_tokenizer_json(std::move(doc), origin);
      apply_tokenizer_config(*impl, config_path);
      impl->origin = path;
      return Tokenizer(impl);
    }
  } else {
    json_path = path;
    config_path = (fs::path(path).parent_path() / "tokenizer_config.json").string();
  }
  Json doc;
  try {
    doc = Json::parse(read_file(json_path));
  } catch (const nlohmann::json::exception& e) {
    throw FileError(json_path, str("invalid JSON: ", e.what()));
  }
  auto impl = load_tokenizer_json(std::move(doc), json_path);
  apply_tokenizer_config(*impl, config_path);
  return Tokenizer(impl);
}

}  // namespace vlm::tokenizers
