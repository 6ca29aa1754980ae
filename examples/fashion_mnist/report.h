#pragma once
// What a run leaves behind besides the checkpoint: a metrics CSV, an SVG of
// the training curves, and a confusion matrix with the class names.
#include <string>
#include <vector>

#include <tapegrad/tapegrad.h>

namespace fashion {

struct EpochMetrics {
  int epoch = 0;
  double train_loss = 0;
  double test_loss = 0;
  double test_accuracy = 0;  // in [0, 1]
  double seconds = 0;
};

void write_metrics_csv(const std::string& path, const std::vector<EpochMetrics>& metrics);
// Two panels: loss (train and test) and test accuracy, per epoch.
void write_curves_svg(const std::string& path, const std::vector<EpochMetrics>& metrics);
// matrix[true][predicted], printed with the Fashion-MNIST class names.
std::string format_confusion_matrix(const std::vector<std::vector<long>>& matrix);

}  // namespace fashion
