// OpenAI's error object for every refusal of `vlm serve`: {"error": {"message", "type", "param",
// "code"}} with the HTTP status it travels with, thrown by request parsing and caught by the routes.
#pragma once

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

namespace vlm::serve {

class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string message, std::string param = {}, std::string code = {},
           std::string type = "invalid_request_error")
      : std::runtime_error(message), status(status), param(std::move(param)), code(std::move(code)),
        type(std::move(type)) {}
  nlohmann::json to_json() const {
    return {{"error",
             {{"message", what()},
              {"type", type},
              {"param", param.empty() ? nlohmann::json(nullptr) : nlohmann::json(param)},
              {"code", code.empty() ? nlohmann::json(nullptr) : nlohmann::json(code)}}}};
  }
  int status;
  std::string param, code, type;
};

}  // namespace vlm::serve
