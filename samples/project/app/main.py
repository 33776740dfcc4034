"""The sample app: it only needs six and packaging at run time."""

import six
from packaging.version import Version

if __name__ == "__main__":
    print(six.text_type(Version("1.0")))
