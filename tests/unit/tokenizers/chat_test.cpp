// Chat formatting against transformers' rendering of the real templates (expected/chat.json, made
// with @huggingface/jinja): Qwen3 (including its <think> rules), SmolLM's ChatML and SmolLM2's
// default system turn; plus refusal of unknown templates and explicit ChatFormat role strings.
#include <gtest/gtest.h>

#include "core/error.h"
#include "tokenizer_fixtures.h"
#include "tokenizers/chat.h"

namespace vlm::tokenizers {
namespace {

using vlm::test::fixture;

std::vector<ChatMessage> messages_of(const nlohmann::json& j) {
  std::vector<ChatMessage> out;
  for (const auto& m : j) out.push_back({m["role"], m["content"]});
  return out;
}

void check_family(const ChatTemplate& tmpl, const std::string& family) {
  const auto all = nlohmann::json::parse(vlm::test::read_text(fixture("tokenizers/expected/chat.json")));
  ASSERT_TRUE(all.contains(family));
  ASSERT_GE(all[family].size(), 8u);
  for (const auto& c : all[family]) {
    const bool thinking = !c.contains("enable_thinking") || c["enable_thinking"].get<bool>();
    EXPECT_EQ(tmpl.apply(messages_of(c["messages"]), c["add_generation_prompt"].get<bool>(), thinking),
              c["text"].get<std::string>())
        << family << " case " << c["name"];
  }
}

TEST(Chat, Qwen3MatchesTransformers) {
  const ChatTemplate t = ChatTemplate::from_tokenizer_config(fixture("tokenizers/qwen3/tokenizer_config.json"));
  EXPECT_EQ(t.name(), "qwen3");
  check_family(t, "qwen3");
}

TEST(Chat, SmolLMChatMLMatchesTransformers) {
  const ChatTemplate t = ChatTemplate::from_tokenizer_config(fixture("tokenizers/chat/smollm"));
  EXPECT_EQ(t.name(), "chatml");
  check_family(t, "smollm");
}

TEST(Chat, SmolLM2DefaultSystemMatchesTransformers) {
  const ChatTemplate t = ChatTemplate::from_tokenizer_config(fixture("tokenizers/chat/smollm2"));
  EXPECT_EQ(t.name(), "smollm2");
  ASSERT_TRUE(t.format().default_system.has_value());
  EXPECT_EQ(*t.format().default_system, "You are a helpful AI assistant named SmolLM, trained by Hugging Face");
  check_family(t, "smollm2");
}

TEST(Chat, Qwen3ThinkingRules) {
  const ChatTemplate t = ChatTemplate::from_tokenizer_config(fixture("tokenizers/qwen3"));
  // The assistant turn alone (no user turn before it) has no think block ...
  EXPECT_EQ(t.apply({{"assistant", "A cat."}}, false), "<|im_start|>assistant\nA cat.<|im_end|>\n");
  // ... a final assistant turn after the last user turn gets an empty one ...
  EXPECT_EQ(t.apply({{"user", "Q"}, {"assistant", "A"}}, false),
            "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nA<|im_end|>\n");
  // ... and the generation prompt gets one only when thinking is disabled.
  EXPECT_EQ(t.apply({{"user", "Q"}}, true, /*enable_thinking=*/false),
            "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n");
  EXPECT_THROW(t.apply({}, true), vlm::Error);
}

TEST(Chat, UnknownTemplateIsRefusedWithHint) {
  const std::string llama = "{% for message in messages %}{{ '<|start_header_id|>' + message['role'] }}{% endfor %}";
  try {
    ChatTemplate::from_template_string(llama, "model/tokenizer_config.json: chat_template");
    FAIL() << "expected an error";
  } catch (const vlm::Error& e) {
    EXPECT_NE(std::string(e.what()).find("unsupported chat template"), std::string::npos) << e.what();
    EXPECT_NE(e.hint().find("ChatFormat"), std::string::npos);
  }
  EXPECT_THROW(ChatTemplate::from_tokenizer_config(fixture("tokenizers/bert-uncased")), vlm::FileError);
}

TEST(Chat, ExplicitFormat) {
  ChatFormat f;
  f.bos = "<s>";
  f.system_prefix = "[SYS] ";
  f.user_prefix = "[USER] ";
  f.assistant_prefix = "[BOT] ";
  f.turn_end = "\n";
  f.generation_prompt = "[BOT] ";
  const ChatTemplate t = ChatTemplate::from_format(f);
  EXPECT_EQ(t.apply({{"system", "Be brief."}, {"user", "Hi"}}, true), "<s>[SYS] Be brief.\n[USER] Hi\n[BOT] ");
  EXPECT_THROW(t.apply({{"narrator", "x"}}, false), vlm::Error);
  EXPECT_EQ(ChatTemplate::from_format(ChatTemplate::chatml()).apply({{"assistant", "A"}}, false),
            "<|im_start|>assistant\nA<|im_end|>\n");
}

}  // namespace
}  // namespace vlm::tokenizers
