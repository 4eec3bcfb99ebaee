// Anchor for the shared precompiled torch header (see CMakeLists.txt).
