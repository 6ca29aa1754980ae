#pragma once
/// @file
/// Sequential and ModuleList: modules owned by the container (moved in, or
/// shared through std::shared_ptr) and registered as "0", "1", ...; ModuleDict
/// the same under names of one's choosing, in insertion order. ParameterList
/// and ParameterDict hold parameters the same ways.
///
/// @code
/// tg::nn::Sequential model{tg::nn::Linear(784, 32), tg::nn::ReLU(), tg::nn::Linear(32, 10)};
/// auto y = model(x);                 // each module's forward in turn
/// auto& fc = model.at<tg::nn::Linear>(0);
/// @endcode
#include <concepts>
#include <cstddef>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <tapegrad/nn/module.h>

namespace tg::nn {

namespace detail {

template <class M>
struct is_shared_module : std::false_type {};
template <class M>
struct is_shared_module<std::shared_ptr<M>> : std::bool_constant<std::derived_from<M, Module>> {};

/// A module given by value (moved in) or as a std::shared_ptr to one.
template <class M>
concept ModuleArgument =
    std::derived_from<std::remove_cvref_t<M>, Module> || is_shared_module<std::remove_cvref_t<M>>::value;

}  // namespace detail

/// A list of owned submodules without a forward of its own.
class ModuleList : public Module {
 public:
  /// Empty, or holding `modules` (each moved in, or shared as a std::shared_ptr)
  /// registered as "0", "1", ...
  ///@{
  ModuleList() = default;
  template <detail::ModuleArgument... Ms>
  requires(sizeof...(Ms) > 0) explicit ModuleList(Ms&&... modules) { (push_back(std::forward<Ms>(modules)), ...); }
  ///@}

  /// Appends a module, registered as its index: by value (move it in:
  /// std::move(m) or a temporary), or shared through a std::shared_ptr.
  ///@{
  template <class M>
  requires std::derived_from<std::remove_cvref_t<M>, Module>
  void push_back(M&& module) {
    static_assert(!std::is_lvalue_reference_v<M>,
                  "modules are not copyable: move one in (std::move(m)) or pass a std::shared_ptr to share it");
    push_back(std::make_shared<std::remove_cvref_t<M>>(std::move(module)));
  }
  template <class M>
  requires std::derived_from<M, Module>
  void push_back(std::shared_ptr<M> module) { append(std::shared_ptr<Module>(std::move(module))); }
  ///@}

  /// std::vector-like access; operator[] and ptr() throw tg::IndexError for an
  /// index out of range.
  ///@{
  std::size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  Module& operator[](std::size_t index) const { return *ptr(index); }
  ///@}
  /// The module at `index` as its own type; ValueError if it is another type.
  template <class M>
  M& at(std::size_t index) const {
    auto* m = dynamic_cast<M*>(ptr(index).get());
    if (!m) throw_wrong_type(index);
    return *m;
  }
  /// The shared pointer holding the module at `index`.
  /// @throws tg::IndexError for an index out of range.
  const std::shared_ptr<Module>& ptr(std::size_t index) const;
  /// The modules' shared pointers, in order.
  ///@{
  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }
  ///@}

  std::string type_name() const override { return "ModuleList"; }

 private:
  void append(std::shared_ptr<Module> module);
  [[noreturn]] void throw_wrong_type(std::size_t index) const;
  std::vector<std::shared_ptr<Module>> items_;
};

/// Chains its modules: forward(x) = m_n(...m_1(m_0(x))).
class Sequential : public ModuleList {
 public:
  /// ModuleList's constructors: `Sequential{Linear(4, 8), ReLU(), Linear(8, 2)}`.
  using ModuleList::ModuleList;
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Sequential"; }
};

/// Named owned submodules, in insertion order (as PyTorch's ModuleDict).
///
/// @code
/// tg::nn::ModuleDict heads;
/// heads.insert("cls", tg::nn::Linear(16, 10));
/// auto y = heads["cls"](x);            // parameters are "cls.weight", ...
/// @endcode
class ModuleDict : public Module {
 public:
  ModuleDict() = default;

  /// A module by value (moved in) or shared through std::shared_ptr. A name
  /// already in the dict, empty or with a '.' is a ValueError.
  ///@{
  template <class M>
  requires std::derived_from<std::remove_cvref_t<M>, Module>
  void insert(const std::string& key, M&& module) {
    static_assert(!std::is_lvalue_reference_v<M>,
                  "modules are not copyable: move one in (std::move(m)) or pass a std::shared_ptr to share it");
    insert(key, std::make_shared<std::remove_cvref_t<M>>(std::move(module)));
  }
  template <class M>
  requires std::derived_from<M, Module>
  void insert(const std::string& key, std::shared_ptr<M> module) {
    add(key, std::shared_ptr<Module>(std::move(module)));
  }
  ///@}

  /// The number of modules, whether there are none, whether `key` is one, the
  /// keys in insertion order.
  ///@{
  std::size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  bool contains(const std::string& key) const;
  std::vector<std::string> keys() const;
  ///@}
  /// The module under `key` (ptr: its shared pointer; at: as its own type M).
  /// @throws tg::IndexError naming the key and the keys there are, if it is
  ///   absent; at() tg::ValueError if the module is not an M.
  ///@{
  Module& operator[](const std::string& key) const { return *ptr(key); }
  const std::shared_ptr<Module>& ptr(const std::string& key) const;
  template <class M>
  M& at(const std::string& key) const {
    auto* m = dynamic_cast<M*>(ptr(key).get());
    if (!m) throw_wrong_type(key);
    return *m;
  }
  ///@}
  /// (key, module) pairs in insertion order.
  ///@{
  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }
  ///@}

  std::string type_name() const override { return "ModuleDict"; }

 private:
  void add(const std::string& key, std::shared_ptr<Module> module);
  [[noreturn]] void throw_wrong_type(const std::string& key) const;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> items_;
};

/// Parameters registered as "0", "1", ... (requires_grad set, as PyTorch's
/// ParameterList); each entry is the same tensor as the registry's.
class ParameterList : public Module {
 public:
  /// Empty, or registering each of `parameters` (as append()).
  ///@{
  ParameterList() = default;
  explicit ParameterList(const std::vector<Tensor>& parameters);
  ///@}
  /// Returns the registered tensor. An undefined tensor is a ValueError.
  Tensor append(const Tensor& parameter);
  /// std::vector-like access; operator[] throws tg::IndexError for an index out of range.
  ///@{
  std::size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  const Tensor& operator[](std::size_t index) const;
  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }
  ///@}
  std::string type_name() const override { return "ParameterList"; }
  std::string extra_repr() const override;

 private:
  std::vector<Tensor> items_;
};

/// Parameters under names of one's choosing, in insertion order.
class ParameterDict : public Module {
 public:
  ParameterDict() = default;
  /// Returns the registered tensor. A taken, empty or dotted name, or an
  /// undefined tensor, is a ValueError.
  Tensor insert(const std::string& key, const Tensor& parameter);
  /// The number of parameters, whether there are none, whether `key` is one,
  /// the keys in insertion order.
  ///@{
  std::size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  bool contains(const std::string& key) const;
  std::vector<std::string> keys() const;
  ///@}
  /// The parameter under `key`.
  /// @throws tg::IndexError naming the key, if it is absent.
  const Tensor& operator[](const std::string& key) const;
  /// (key, parameter) pairs in insertion order.
  ///@{
  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }
  ///@}
  std::string type_name() const override { return "ParameterDict"; }
  std::string extra_repr() const override;

 private:
  std::vector<std::pair<std::string, Tensor>> items_;
};

}  // namespace tg::nn
