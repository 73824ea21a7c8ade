"""Installs the tfp_ldu library together with its `models` and `train` packages."""
from setuptools import find_packages, setup

setup(
    name="tfp_ldu",
    version="0.1.0",
    description=(
        "Normalizing-flow bijectors for TensorFlow Probability and Keras 3: "
        "Sinusoidal/LDU flows, Flow++ mixture-logistic couplings, residual flows."
    ),
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["tfp_ldu", "tfp_ldu.*", "models", "models.*",
                                    "train", "train.*"]),
    install_requires=[
        # TFP 0.25 is built against TF 2.21 and needs tf-keras at first use.
        "tensorflow==2.21.*",
        "tensorflow-probability==0.25.0",
        "tf-keras==2.21.*",
        "keras>=3.12,<4",
        "numpy>=1.26",
        "pandas>=2.0",
        "h5py>=3.9",
        "matplotlib>=3.7",
        # fit.py --data reads folders of PNG/JPEG images (matplotlib needs it too).
        "Pillow>=9",
        # The built-in image set (8x8 digits) ships with scikit-learn.
        "scikit-learn>=1.3",
        # keras.callbacks.TensorBoard needs it; TF 2.21 no longer pulls it in.
        "tensorboard>=2.20",
        # TFP still imports distutils, which Python >= 3.12 only has via setuptools.
        "setuptools",
    ],
    # pytest-xdist: the README's test command runs the suite on every core.
    # parquet: fit.py --data reads Parquet and Feather tables.
    extras_require={"test": ["pytest>=7", "pytest-xdist>=3"], "parquet": ["pyarrow"]},
    entry_points={"console_scripts": ["tfp-ldu-fit=train.fit:cli"]},
)
