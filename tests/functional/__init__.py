# Nova's in-process services run on eventlet here (os-win imports it), and
# nova must monkey-patch before anything imports oslo.context or urllib3:
# patched late, greenthreads share "thread-local" request contexts and DB
# transactions, and writes of concurrent tasks get lost.
from nova import monkey_patch; monkey_patch.patch()  # noqa: E702,I100
