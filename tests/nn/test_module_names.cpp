// Every module's tree against torch 1.13's for the same constructor arguments
// (tests/reference/module_names.json, written by
// tests/reference/make_module_names_reference.py): named_modules() (names,
// order and class names), named_parameters() (names, order and shapes),
// named_buffers() (names, order, shapes and dtypes) and the state_dict keys.
// Then what the registered dropouts of the Transformer layers do: train() and
// eval() reach them, and forward uses them.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/nn/nn.h>

#include "support/reference.h"

namespace test_module_names {

using tg::Dims;
using tg::Tensor;
namespace nn = tg::nn;
using nlohmann::json;

namespace {

using Builder = std::function<std::shared_ptr<nn::Module>()>;

template <class M, class... Args>
Builder make(Args... args) {
  return [=] { return std::make_shared<M>(args...); };
}

// A user's model, as the reference script's Net: its own parameter and
// buffer registered among its children.
struct Net : nn::Module {
  nn::Sequential encoder{nn::Linear(4, 8), nn::ReLU()};
  Tensor scale;
  nn::BatchNorm1d bn{8};
  Tensor steps;
  nn::ModuleDict heads;
  nn::TransformerEncoderLayer block{8, 2, {.dim_feedforward = 16, .batch_first = true}};
  Net() {
    register_module("encoder", encoder);
    scale = register_parameter("scale", tg::ones({1}));
    register_module("bn", bn);
    steps = register_buffer("steps", tg::zeros({}, {.dtype = tg::kInt64}));
    heads.insert("cls", nn::Linear(8, 3));
    heads.insert("reg", nn::Linear(8, 1));
    register_module("heads", heads);
    register_module("block", block);
  }
};

// Each reference case by the name the script gives it (its Python
// constructor call), built here with the same arguments.
const std::vector<std::pair<std::string, Builder>>& builders() {
  using TLO = nn::TransformerLayerOptions;
  static const std::vector<std::pair<std::string, Builder>> table = {
      // layers with parameters
      {"Linear(4, 3)", make<nn::Linear>(4, 3)},
      {"Linear(4, 3, bias=False)", make<nn::Linear>(4, 3, false)},
      {"Conv1d(4, 6, 3)", make<nn::Conv1d>(4, 6, 3)},
      {"Conv1d(4, 6, 3, groups=2, bias=False)", make<nn::Conv1d>(4, 6, 3, nn::Conv1dOptions{.groups = 2, .bias = false})},
      {"Conv2d(3, 8, 3)", make<nn::Conv2d>(3, 8, 3)},
      {"Conv2d(4, 8, (3, 5), stride=2, padding=1, groups=2, bias=False)",
       make<nn::Conv2d>(4, 8, tg::Size2{3, 5}, nn::Conv2dOptions{.stride = 2, .padding = 1, .groups = 2, .bias = false})},
      {"ConvTranspose1d(4, 6, 3, groups=2)", make<nn::ConvTranspose1d>(4, 6, 3, nn::ConvTranspose1dOptions{.groups = 2})},
      {"ConvTranspose2d(4, 6, (2, 3), groups=2)",
       make<nn::ConvTranspose2d>(4, 6, tg::Size2{2, 3}, nn::ConvTranspose2dOptions{.groups = 2})},
      {"ConvTranspose2d(3, 5, 3, bias=False)", make<nn::ConvTranspose2d>(3, 5, 3, nn::ConvTranspose2dOptions{.bias = false})},
      {"BatchNorm1d(5)", make<nn::BatchNorm1d>(5)},
      {"BatchNorm1d(5, affine=False)", make<nn::BatchNorm1d>(5, nn::BatchNormOptions{.affine = false})},
      {"BatchNorm2d(5, momentum=None)", make<nn::BatchNorm2d>(5, nn::BatchNormOptions{.momentum = std::nullopt})},
      {"BatchNorm2d(5, track_running_stats=False)",
       make<nn::BatchNorm2d>(5, nn::BatchNormOptions{.track_running_stats = false})},
      {"BatchNorm2d(5, affine=False, track_running_stats=False)",
       make<nn::BatchNorm2d>(5, nn::BatchNormOptions{.affine = false, .track_running_stats = false})},
      {"LayerNorm(6)", make<nn::LayerNorm>(6)},
      {"LayerNorm([3, 4])", make<nn::LayerNorm>(Dims{3, 4})},
      {"LayerNorm([3, 4], elementwise_affine=False)",
       make<nn::LayerNorm>(Dims{3, 4}, nn::LayerNormOptions{.elementwise_affine = false})},
      {"LayerNorm(6, bias=False)", make<nn::LayerNorm>(6, nn::LayerNormOptions{.bias = false})},
      {"RMSNorm(6)", make<nn::RMSNorm>(6)},
      {"RMSNorm([3, 4], elementwise_affine=False)",
       make<nn::RMSNorm>(Dims{3, 4}, nn::RMSNormOptions{.elementwise_affine = false})},
      {"GroupNorm(2, 6)", make<nn::GroupNorm>(2, 6)},
      {"GroupNorm(3, 6, affine=False)", make<nn::GroupNorm>(3, 6, nn::GroupNormOptions{.affine = false})},
      {"InstanceNorm1d(4)", make<nn::InstanceNorm1d>(4)},
      {"InstanceNorm2d(3, affine=True, track_running_stats=True)",
       make<nn::InstanceNorm2d>(3, nn::InstanceNormOptions{.affine = true, .track_running_stats = true})},
      {"InstanceNorm1d(5, track_running_stats=True)",
       make<nn::InstanceNorm1d>(5, nn::InstanceNormOptions{.track_running_stats = true})},
      {"PReLU()", make<nn::PReLU>()},
      {"PReLU(3, 0.1)", make<nn::PReLU>(std::int64_t{3}, 0.1)},
      {"Embedding(10, 4)", make<nn::Embedding>(10, 4)},
      {"Embedding(10, 4, padding_idx=0, max_norm=1.0)",
       make<nn::Embedding>(10, 4, std::optional<std::int64_t>(0), std::optional<double>(1.0))},
      // recurrent layers
      {"RNN(4, 5)", make<nn::RNN>(4, 5)},
      {"RNN(4, 5, num_layers=2, nonlinearity='relu', bias=False, bidirectional=True)",
       make<nn::RNN>(4, 5, nn::RNNOptions{.num_layers = 2, .nonlinearity = "relu", .bias = false, .bidirectional = true})},
      {"LSTM(4, 5, num_layers=2, bidirectional=True)",
       make<nn::LSTM>(4, 5, nn::RNNOptions{.num_layers = 2, .bidirectional = true})},
      {"LSTM(4, 5, bias=False, batch_first=True)",
       make<nn::LSTM>(4, 5, nn::RNNOptions{.bias = false, .batch_first = true})},
      {"GRU(4, 5, num_layers=3, dropout=0.2)", make<nn::GRU>(4, 5, nn::RNNOptions{.num_layers = 3, .dropout = 0.2})},
      {"GRU(4, 5, bidirectional=True)", make<nn::GRU>(4, 5, nn::RNNOptions{.bidirectional = true})},
      {"RNNCell(4, 5)", make<nn::RNNCell>(4, 5)},
      {"RNNCell(4, 5, bias=False, nonlinearity='relu')",
       make<nn::RNNCell>(4, 5, nn::RNNCellOptions{.bias = false, .nonlinearity = "relu"})},
      {"LSTMCell(4, 5)", make<nn::LSTMCell>(4, 5)},
      {"LSTMCell(4, 5, bias=False)", make<nn::LSTMCell>(4, 5, nn::RNNCellOptions{.bias = false})},
      {"GRUCell(4, 5)", make<nn::GRUCell>(4, 5)},
      {"GRUCell(4, 5, bias=False)", make<nn::GRUCell>(4, 5, nn::RNNCellOptions{.bias = false})},
      // attention and transformers
      {"MultiheadAttention(8, 2)", make<nn::MultiheadAttention>(8, 2)},
      {"MultiheadAttention(8, 2, bias=False)",
       make<nn::MultiheadAttention>(8, 2, nn::MultiheadAttentionOptions{.bias = false})},
      {"MultiheadAttention(8, 4, kdim=5, vdim=3)",
       make<nn::MultiheadAttention>(8, 4, nn::MultiheadAttentionOptions{.kdim = 5, .vdim = 3})},
      {"MultiheadAttention(8, 2, dropout=0.1, batch_first=True)",
       make<nn::MultiheadAttention>(8, 2, nn::MultiheadAttentionOptions{.dropout = 0.1, .batch_first = true})},
      {"TransformerEncoderLayer(8, 2, dim_feedforward=16)",
       make<nn::TransformerEncoderLayer>(8, 2, TLO{.dim_feedforward = 16})},
      {"TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, activation='gelu', norm_first=True)",
       make<nn::TransformerEncoderLayer>(
           8, 2, TLO{.dim_feedforward = 16, .dropout = 0.0, .activation = "gelu", .norm_first = true})},
      {"TransformerDecoderLayer(8, 2, dim_feedforward=16)",
       make<nn::TransformerDecoderLayer>(8, 2, TLO{.dim_feedforward = 16})},
      {"TransformerDecoderLayer(8, 2, dim_feedforward=16, batch_first=True, norm_first=True)",
       make<nn::TransformerDecoderLayer>(8, 2, TLO{.dim_feedforward = 16, .batch_first = true, .norm_first = true})},
      {"TransformerEncoderLayer(8, 2, dim_feedforward=16, bias=False)",
       make<nn::TransformerEncoderLayer>(8, 2, TLO{.dim_feedforward = 16, .bias = false})},
      {"TransformerDecoderLayer(8, 2, dim_feedforward=16, bias=False)",
       make<nn::TransformerDecoderLayer>(8, 2, TLO{.dim_feedforward = 16, .bias = false})},
      {"TransformerEncoder(TransformerEncoderLayer(8, 2, dim_feedforward=16), 2)",
       make<nn::TransformerEncoder>(8, 2, 2, TLO{.dim_feedforward = 16})},
      {"TransformerEncoder(TransformerEncoderLayer(8, 2, dim_feedforward=16), 2, norm=LayerNorm(8))",
       make<nn::TransformerEncoder>(8, 2, 2, TLO{.dim_feedforward = 16}, true)},
      {"TransformerDecoder(TransformerDecoderLayer(8, 2, dim_feedforward=16), 2, norm=LayerNorm(8))",
       make<nn::TransformerDecoder>(8, 2, 2, TLO{.dim_feedforward = 16}, true)},
      {"TransformerDecoder(TransformerDecoderLayer(8, 2, dim_feedforward=16), 1)",
       make<nn::TransformerDecoder>(8, 2, 1, TLO{.dim_feedforward = 16})},
      {"Transformer(d_model=8, nhead=2, num_encoder_layers=2, num_decoder_layers=1, dim_feedforward=16)",
       make<nn::Transformer>(nn::TransformerOptions{
           .d_model = 8, .nhead = 2, .num_encoder_layers = 2, .num_decoder_layers = 1, .layer = {.dim_feedforward = 16}})},
      // modules without state
      {"Dropout(0.3)", make<nn::Dropout>(0.3)},
      {"Identity()", make<nn::Identity>()},
      {"Flatten()", make<nn::Flatten>()},
      {"Unflatten(1, (2, 5))", make<nn::Unflatten>(1, Dims{2, 5})},
      {"ReLU()", make<nn::ReLU>()},
      {"LeakyReLU(0.2)", make<nn::LeakyReLU>(0.2)},
      {"GELU()", make<nn::GELU>()},
      {"GELU(approximate='tanh')", make<nn::GELU>(std::string("tanh"))},
      {"ReLU6()", make<nn::ReLU6>()},
      {"CosineSimilarity(dim=0)", make<nn::CosineSimilarity>(nn::CosineSimilarityOptions{.dim = 0})},
      {"PairwiseDistance(p=1.0, keepdim=True)",
       make<nn::PairwiseDistance>(nn::PairwiseDistanceOptions{.p = 1.0, .keepdim = true})},
      {"Sigmoid()", make<nn::Sigmoid>()},
      {"Tanh()", make<nn::Tanh>()},
      {"Softmax(dim=1)", make<nn::Softmax>(1)},
      {"LogSoftmax(dim=1)", make<nn::LogSoftmax>(1)},
      {"Softplus()", make<nn::Softplus>()},
      {"SiLU()", make<nn::SiLU>()},
      {"ELU()", make<nn::ELU>()},
      {"SELU()", make<nn::SELU>()},
      {"CELU()", make<nn::CELU>()},
      {"Mish()", make<nn::Mish>()},
      {"Hardtanh()", make<nn::Hardtanh>()},
      {"Hardswish()", make<nn::Hardswish>()},
      {"Hardsigmoid()", make<nn::Hardsigmoid>()},
      {"LogSigmoid()", make<nn::LogSigmoid>()},
      {"Softsign()", make<nn::Softsign>()},
      {"GLU()", make<nn::GLU>()},
      {"MaxPool2d(2)", make<nn::MaxPool2d>(2)},
      {"AvgPool2d(2)", make<nn::AvgPool2d>(2)},
      {"AvgPool1d(2)", make<nn::AvgPool1d>(2)},
      {"AdaptiveAvgPool2d(3)", make<nn::AdaptiveAvgPool2d>(3)},
      {"AdaptiveAvgPool1d(3)", make<nn::AdaptiveAvgPool1d>(3)},
      {"MaxPool1d(2)", make<nn::MaxPool1d>(2)},
      {"AdaptiveMaxPool2d(3)", make<nn::AdaptiveMaxPool2d>(3)},
      {"AdaptiveMaxPool1d(3)", make<nn::AdaptiveMaxPool1d>(3)},
      {"Upsample(scale_factor=2)", make<nn::Upsample>(nn::UpsampleOptions{.scale_factor = {2}})},
      {"PixelShuffle(2)", make<nn::PixelShuffle>(2)},
      {"PixelUnshuffle(2)", make<nn::PixelUnshuffle>(2)},
      {"MSELoss()", make<nn::MSELoss>()},
      {"L1Loss()", make<nn::L1Loss>()},
      {"HuberLoss()", make<nn::HuberLoss>()},
      {"SmoothL1Loss()", make<nn::SmoothL1Loss>()},
      {"KLDivLoss()", make<nn::KLDivLoss>()},
      {"PoissonNLLLoss()", make<nn::PoissonNLLLoss>()},
      {"GaussianNLLLoss()", make<nn::GaussianNLLLoss>()},
      {"CosineEmbeddingLoss()", make<nn::CosineEmbeddingLoss>()},
      {"MarginRankingLoss()", make<nn::MarginRankingLoss>()},
      {"TripletMarginLoss()", make<nn::TripletMarginLoss>()},
      {"CTCLoss()", make<nn::CTCLoss>()},
      {"CrossEntropyLoss()", make<nn::CrossEntropyLoss>()},
      // losses whose weights are buffers
      {"CrossEntropyLoss(weight=torch.ones(3))",
       [] { return std::make_shared<nn::CrossEntropyLoss>(tg::CrossEntropyLossOptions{.weight = tg::ones({3})}); }},
      {"NLLLoss(weight=torch.ones(3))",
       [] { return std::make_shared<nn::NLLLoss>(tg::NLLLossOptions{.weight = tg::ones({3})}); }},
      {"BCELoss(weight=torch.ones(3))",
       [] { return std::make_shared<nn::BCELoss>(tg::BCELossOptions{.weight = tg::ones({3})}); }},
      {"BCEWithLogitsLoss(weight=torch.ones(3), pos_weight=torch.ones(3))",
       [] {
         return std::make_shared<nn::BCEWithLogitsLoss>(
             tg::BCEWithLogitsLossOptions{.weight = tg::ones({3}), .pos_weight = tg::ones({3})});
       }},
      {"BCEWithLogitsLoss(pos_weight=torch.ones(3))",
       [] {
         return std::make_shared<nn::BCEWithLogitsLoss>(tg::BCEWithLogitsLossOptions{.pos_weight = tg::ones({3})});
       }},
      {"MultiLabelSoftMarginLoss(weight=torch.ones(3))",
       [] {
         return std::make_shared<nn::MultiLabelSoftMarginLoss>(
             tg::MultiLabelSoftMarginLossOptions{.weight = tg::ones({3})});
       }},
      // containers
      {"Sequential(Linear(4, 8), ReLU(), Dropout(0.2), Linear(8, 2))",
       [] {
         return std::make_shared<nn::Sequential>(nn::Linear(4, 8), nn::ReLU(), nn::Dropout(0.2), nn::Linear(8, 2));
       }},
      {"Sequential(Conv2d(3, 4, 3), BatchNorm2d(4), Sequential(ReLU(), Flatten()), Linear(16, 2))",
       [] {
         return std::make_shared<nn::Sequential>(nn::Conv2d(3, 4, 3), nn::BatchNorm2d(4),
                                                 nn::Sequential(nn::ReLU(), nn::Flatten()), nn::Linear(16, 2));
       }},
      {"Sequential(shared, ReLU(), shared)",
       [] {
         auto shared = std::make_shared<nn::Linear>(3, 3);
         return std::make_shared<nn::Sequential>(shared, nn::ReLU(), shared);
       }},
      {"ModuleList([Linear(2, 3), LSTM(3, 4), BatchNorm1d(4)])",
       [] { return std::make_shared<nn::ModuleList>(nn::Linear(2, 3), nn::LSTM(3, 4), nn::BatchNorm1d(4)); }},
      {"ModuleDict({'encoder': Linear(4, 8), 'norm': LayerNorm(8), 'act': GELU()})",
       [] {
         auto dict = std::make_shared<nn::ModuleDict>();
         dict->insert("encoder", nn::Linear(4, 8));
         dict->insert("norm", nn::LayerNorm(8));
         dict->insert("act", nn::GELU());
         return dict;
       }},
      {"ParameterList([torch.ones(2, 3), torch.ones(4)])",
       [] { return std::make_shared<nn::ParameterList>(std::vector<Tensor>{tg::ones({2, 3}), tg::ones({4})}); }},
      {"ParameterDict({'alpha': torch.ones(2), 'beta': torch.ones(3, 1)})",
       [] {
         auto dict = std::make_shared<nn::ParameterDict>();
         dict->insert("alpha", tg::ones({2}));
         dict->insert("beta", tg::ones({3, 1}));
         return dict;
       }},
      {"Net()", make<Net>()},
  };
  return table;
}

// The class names torch prints for a module tapegrad spells otherwise:
// MultiheadAttention's out_proj is a Linear subclass in torch that exists
// for quantization only.
std::string tapegrad_class(const std::string& torch_class) {
  return torch_class == "NonDynamicallyQuantizableLinear" ? "Linear" : torch_class;
}

std::string shape_text(const std::vector<std::int64_t>& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

// The lists as text, one entry a line: doctest then prints both sides of a
// mismatch whole.
std::string lines(const std::vector<std::string>& entries) { return fmt::format("{}\n", fmt::join(entries, "\n")); }

struct Tree {
  std::string modules, parameters, buffers, state_dict;
};

Tree tree_of(nn::Module& module) {
  std::vector<std::string> modules, parameters, buffers, keys;
  for (const auto& named : module.named_modules()) modules.push_back(named.first + " " + named.second->type_name());
  for (const auto& named : module.named_parameters())
    parameters.push_back(named.first + " " + shape_text(named.second.shape().vec()));
  for (const auto& named : module.named_buffers())
    buffers.push_back(fmt::format("{} {} {}", named.first, shape_text(named.second.shape().vec()),
                                  tg::dtype_name(named.second.dtype())));
  for (const auto& entry : module.state_dict()) keys.push_back(entry.first);
  return {lines(modules), lines(parameters), lines(buffers), lines(keys)};
}

Tree reference_tree(const json& entry) {
  std::vector<std::string> modules, parameters, buffers, keys;
  for (const auto& m : entry.at("modules"))
    modules.push_back(m.at(0).get<std::string>() + " " + tapegrad_class(m.at(1).get<std::string>()));
  for (const auto& p : entry.at("parameters"))
    parameters.push_back(p.at(0).get<std::string>() + " " + shape_text(p.at(1).get<std::vector<std::int64_t>>()));
  for (const auto& b : entry.at("buffers"))
    buffers.push_back(fmt::format("{} {} {}", b.at(0).get<std::string>(),
                                  shape_text(b.at(1).get<std::vector<std::int64_t>>()), b.at(2).get<std::string>()));
  // tapegrad's StateDict is a std::map, so its keys come sorted (a
  // difference docs/pytorch.md lists); the set of keys is compared.
  keys = entry.at("state_dict").get<std::vector<std::string>>();
  std::sort(keys.begin(), keys.end());
  return {lines(modules), lines(parameters), lines(buffers), lines(keys)};
}

}  // namespace

TEST_CASE("every module's named_modules, named_parameters, named_buffers and state_dict keys are torch's") {
  const json& cases = tg_test::reference_file("module_names.json").at("cases");
  std::set<std::string> built;
  for (const auto& [name, build] : builders()) {
    const std::string case_name = name;  // CAPTURE takes no structured binding (Clang 14)
    CAPTURE(case_name);
    REQUIRE(cases.contains(case_name));
    REQUIRE(built.insert(case_name).second);
    const auto module = build();
    const Tree got = tree_of(*module);
    const Tree want = reference_tree(cases.at(case_name));
    CHECK(got.modules == want.modules);
    CHECK(got.parameters == want.parameters);
    CHECK(got.buffers == want.buffers);
    CHECK(got.state_dict == want.state_dict);
  }
  // Every reference case has its module here.
  for (const auto& item : cases.items()) {
    const std::string reference_case = item.key();
    CAPTURE(reference_case);
    CHECK(built.contains(reference_case));
  }
}

TEST_CASE("every module class of nn/ has a reference case") {
  // The classes that derive from another, as the headers declare them, less
  // the abstract bases (what is left is what a user can build).
  const std::set<std::string> bases = {"Module",  "Callable",    "Loss",         "BatchNorm",
                                       "RNNBase", "RNNCellBase", "InstanceNorm", "NormBase"};
  std::set<std::string> classes;
  const std::regex declaration(R"(^class (\w+) : public )");
  for (const auto& file : std::filesystem::directory_iterator(std::string(TAPEGRAD_SOURCE_DIR) + "/nn")) {
    if (file.path().extension() != ".h") continue;
    std::ifstream in(file.path());
    std::smatch match;
    for (std::string line; std::getline(in, line);)
      if (std::regex_search(line, match, declaration) && !bases.contains(match[1].str()))
        classes.insert(match[1].str());
  }
  CHECK(classes.size() > 60);
  std::set<std::string> covered;
  for (const auto& item : tg_test::reference_file("module_names.json").at("cases").items())
    for (const auto& m : item.value().at("modules")) covered.insert(tapegrad_class(m.at(1).get<std::string>()));
  for (const std::string& name : classes) {
    CAPTURE(name);
    CHECK(covered.contains(name));
  }
}

TEST_CASE("the Transformer layers' dropouts are submodules: train() and eval() reach them, forward uses them") {
  tg::manual_seed(7);
  nn::TransformerEncoderLayer encoder(8, 2, {.dim_feedforward = 16, .dropout = 0.5});
  nn::TransformerDecoderLayer decoder(8, 2, {.dim_feedforward = 16, .dropout = 0.5});
  for (auto* dropout : {encoder.dropout.get(), encoder.dropout1.get(), encoder.dropout2.get(), decoder.dropout.get(),
                        decoder.dropout1.get(), decoder.dropout2.get(), decoder.dropout3.get()}) {
    CHECK(dropout->p == 0.5);
    encoder.eval();
    decoder.eval();
    CHECK_FALSE(dropout->is_training());
    encoder.train();
    decoder.train();
    CHECK(dropout->is_training());
  }

  const Tensor src = tg::randn({5, 3, 8});
  const Tensor memory = tg::randn({4, 3, 8});
  tg::NoGradGuard no_grad;
  encoder.eval();
  decoder.eval();
  const Tensor encoded = encoder(src);
  const Tensor decoded = decoder(src, memory);
  encoder.train();
  decoder.train();
  CHECK_FALSE(tg::allclose(encoder(src), encoded));
  CHECK_FALSE(tg::allclose(decoder(src, memory), decoded));
  // Each dropout submodule in eval mode, and the attention's own dropout
  // (MultiheadAttention's dropout is a number, as torch's): the layers are
  // deterministic although they are in training mode, so forward drops
  // through these submodules and no other way.
  for (nn::Module* m : std::initializer_list<nn::Module*>{encoder.self_attn.get(), encoder.dropout.get(),
                                                          encoder.dropout1.get(), encoder.dropout2.get()})
    m->eval();
  for (nn::Module* m :
       std::initializer_list<nn::Module*>{decoder.self_attn.get(), decoder.multihead_attn.get(), decoder.dropout.get(),
                                          decoder.dropout1.get(), decoder.dropout2.get(), decoder.dropout3.get()})
    m->eval();
  CHECK(encoder.is_training());
  CHECK(tg::allclose(encoder(src), encoded));
  CHECK(tg::allclose(decoder(src, memory), decoded));
  // One of them left in training mode drops again.
  encoder.dropout1->train();
  CHECK_FALSE(tg::allclose(encoder(src), encoded));
  decoder.dropout3->train();
  CHECK_FALSE(tg::allclose(decoder(src, memory), decoded));
}

}  // namespace test_module_names
