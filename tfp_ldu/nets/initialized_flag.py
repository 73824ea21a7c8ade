"""The saved "initialised" flag of layers with data-dependent initialisation."""
import keras

__all__ = ["InitializedFlag"]


class InitializedFlag:
  """Mixin for Keras layers initialised from data (actnorms).

  `add_initialized_flag()` creates a non-trainable scalar weight, so the flag
  is saved and restored with the model's weights (a reloaded or resumed model
  is not re-initialised); `is_initialized` and `needs_initialization` are the
  `BijectorLayer` protocol's view of it.  Set it with
  `self.initialized.assign(1.0)` at the end of `initialize`.
  """

  def add_initialized_flag(self):
    self.initialized = self.add_weight(shape=(), initializer="zeros", trainable=False,
                                       name="initialized")

  @property
  def is_initialized(self):
    return bool(keras.ops.convert_to_numpy(self.initialized) > 0)

  @property
  def needs_initialization(self):
    return not self.is_initialized
