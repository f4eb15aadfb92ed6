#pragma once
// placeholder, filled in by the python-dist work
