#pragma once
// placeholder, filled in by the conda-record work
