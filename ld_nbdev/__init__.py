__version__ = "0.1.0"

import warnings as _warnings
_warnings.filterwarnings("ignore", message=".*torch.jit.script.*")  # raised by an import inside fastai; not ours to fix
