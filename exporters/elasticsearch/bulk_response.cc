#include "exporters/elasticsearch/bulk_response.h"

#include <nlohmann/json.hpp>

namespace tributary::exporters::elasticsearch {

std::optional<std::vector<BulkItem>> ParseBulkResponse(std::string_view body, size_t documents) {
  // The answer to a request without failures starts with this (the items
  // are left out of the response by filter_path, or not needed).
  if (body.substr(0, 64).find("\"errors\":false") != std::string_view::npos) {
    return std::vector<BulkItem>();
  }
  const nlohmann::json response = nlohmann::json::parse(body, nullptr, false);
  if (!response.is_object()) return std::nullopt;
  const auto items = response.find("items");
  if (items == response.end() || !items->is_array() || items->size() != documents) {
    return std::nullopt;
  }
  std::vector<BulkItem> out;
  out.reserve(documents);
  for (const nlohmann::json& item : *items) {
    BulkItem b;
    // {"create": {...}} (or index, update, delete): the operation's result.
    const nlohmann::json* result = item.is_object() && item.size() == 1 && item.begin()->is_object()
                                       ? &*item.begin()
                                       : nullptr;
    if (result != nullptr) {
      const auto status = result->find("status");
      if (status != result->end() && status->is_number_integer()) b.status = status->get<long>();
      const auto error = result->find("error");
      if (error != result->end() && error->is_object()) {
        const auto type = error->find("type");
        const auto reason = error->find("reason");
        if (type != error->end() && type->is_string()) b.error_type = type->get<std::string>();
        if (reason != error->end() && reason->is_string()) {
          b.error_reason = reason->get<std::string>();
        }
      }
    }
    out.push_back(std::move(b));
  }
  return out;
}

}  // namespace tributary::exporters::elasticsearch
