#include <tapegrad/nn/container.h>

#include <string>

#include <fmt/format.h>
#include <fmt/ranges.h>

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

void ModuleDict::add(const std::string& key, std::shared_ptr<Module> module) {
  if (!module) throw ValueError(fmt::format("{}: cannot insert a null module as '{}'", type_name(), key));
  register_module(key, module);
  items_.emplace_back(key, std::move(module));
}

bool ModuleDict::contains(const std::string& key) const {
  for (const auto& item : items_)
    if (item.first == key) return true;
  return false;
}

std::vector<std::string> ModuleDict::keys() const {
  std::vector<std::string> out;
  for (const auto& item : items_) out.push_back(item.first);
  return out;
}

const std::shared_ptr<Module>& ModuleDict::ptr(const std::string& key) const {
  for (const auto& item : items_)
    if (item.first == key) return item.second;
  throw IndexError(fmt::format("{}: no module named '{}' (keys: [{}])", type_name(), key, fmt::join(keys(), ", ")));
}

void ModuleDict::throw_wrong_type(const std::string& key) const {
  throw ValueError(
      fmt::format("{}: module '{}' is a {}, not the type asked for", type_name(), key, ptr(key)->type_name()));
}

namespace {

// As PyTorch prints a parameter in a list: "[float32 of size 2x3]" (without
// PyTorch's "torch." before the dtype, as tapegrad prints dtypes).
std::string describe(const Tensor& t) {
  return fmt::format("Parameter containing: [{} of size {}]", dtype_name(t.dtype()),
                     fmt::join(t.sizes().begin(), t.sizes().end(), "x"));
}

}  // namespace

ParameterList::ParameterList(const std::vector<Tensor>& parameters) {
  for (const auto& p : parameters) append(p);
}

Tensor ParameterList::append(const Tensor& parameter) {
  if (!parameter.defined())
    throw ValueError(fmt::format("{}: cannot append an undefined tensor (index {})", type_name(), items_.size()));
  items_.push_back(register_parameter(std::to_string(items_.size()), parameter));
  return items_.back();
}

const Tensor& ParameterList::operator[](std::size_t index) const {
  if (index >= items_.size())
    throw IndexError(fmt::format("{}: index {} is out of range for {} parameters", type_name(), index, items_.size()));
  return items_[index];
}

std::string ParameterList::extra_repr() const {
  std::string out;
  for (std::size_t i = 0; i < items_.size(); ++i)
    out += fmt::format("{}  ({}): {}", i == 0 ? "" : "\n", i, describe(items_[i]));  // a line each
  return out;
}

Tensor ParameterDict::insert(const std::string& key, const Tensor& parameter) {
  if (!parameter.defined())
    throw ValueError(fmt::format("{}: cannot insert an undefined tensor as '{}'", type_name(), key));
  items_.emplace_back(key, register_parameter(key, parameter));
  return items_.back().second;
}

bool ParameterDict::contains(const std::string& key) const {
  for (const auto& item : items_)
    if (item.first == key) return true;
  return false;
}

std::vector<std::string> ParameterDict::keys() const {
  std::vector<std::string> out;
  for (const auto& item : items_) out.push_back(item.first);
  return out;
}

const Tensor& ParameterDict::operator[](const std::string& key) const {
  for (const auto& item : items_)
    if (item.first == key) return item.second;
  throw IndexError(fmt::format("{}: no parameter named '{}' (keys: [{}])", type_name(), key, fmt::join(keys(), ", ")));
}

std::string ParameterDict::extra_repr() const {
  std::string out;
  for (std::size_t i = 0; i < items_.size(); ++i)
    out += fmt::format("{}  ({}): {}", i == 0 ? "" : "\n", items_[i].first, describe(items_[i].second));
  return out;
}

Tensor Sequential::forward(const Tensor& input) {
  Tensor x = input;
  for (const auto& m : *this) x = m->forward(x);
  return x;
}

}  // namespace tg::nn
