"""Offline classification companion: weighted DNN classifiers, feature selection, searches and cascades.

Submodules import torch, lightgbm and optuna lazily through the command workflows, so importing this
package stays cheap.
"""
