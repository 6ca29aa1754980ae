#include <tapegrad/nn/container.h>

#include <string>

#include <fmt/format.h>

namespace tg::nn {

void ModuleList::append(std::shared_ptr<Module> module) {
  if (!module) throw ValueError(fmt::format("{}: cannot add a null module", type_name()));
  register_module(std::to_string(items_.size()), module);
  items_.push_back(std::move(module));
}

const std::shared_ptr<Module>& ModuleList::ptr(std::size_t index) const {
  if (index >= items_.size())
    throw IndexError(fmt::format("{}: index {} is out of range for {} modules", type_name(), index, items_.size()));
  return items_[index];
}

void ModuleList::throw_wrong_type(std::size_t index) const {
  throw ValueError(
      fmt::format("{}: module {} is a {}, not the type asked for", type_name(), index, items_[index]->type_name()));
}

Tensor Sequential::forward(const Tensor& input) {
  Tensor x = input;
  for (const auto& m : *this) x = m->forward(x);
  return x;
}

}  // namespace tg::nn
