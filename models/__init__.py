"""The model zoo of `train/fit.py`: one `FlowSpec` per flow family, one module each.

    import models
    models.SPECS                  # {"flowpp": FlowSpec(...), "glow": ..., "ldu": ..., ...}
    models.spec_for("maf")        # the MAF family's spec
    models.build_model("maf", data_info, hyperparameters, flag_values={"batch_norm": True})

Every module here other than `spec` and `zoo` defines `SPEC = FlowSpec(...)`
(see `models.spec`) and is found by `models.zoo`: adding a family is one flow
module in `tfp_ldu/flows/` and one spec module here.  The classes themselves
live in the library (`tfp_ldu.flows`), so that `import tfp_ldu` alone
registers them with Keras.
"""
from models.spec import ARCHITECTURE_OPTIONS
from models.spec import ColumnUnits
from models.spec import DataInfo
from models.spec import Flag
from models.spec import FlowSpec
from models.spec import Option
from models.spec import Variant
from models.zoo import ALL_FLAGS
from models.zoo import SPECS
from models.zoo import build_model
from models.zoo import spec_for

__all__ = ["SPECS", "ALL_FLAGS", "spec_for", "build_model", "FlowSpec", "Variant", "Option",
           "Flag", "DataInfo", "ColumnUnits", "ARCHITECTURE_OPTIONS"]
