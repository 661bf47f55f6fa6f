# cmake -DINPUT=file -DOUTPUT=header.h -DNAME=symbol -P embed_file.cmake
# Writes `header.h` defining `static const unsigned char NAME[]` with the
# bytes of `file` and `NAME_len`: a build-time xxd -i that needs nothing
# beyond CMake.
file(READ "${INPUT}" hex HEX)
string(LENGTH "${hex}" hex_len)
math(EXPR size "${hex_len} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "((0x..,){16})" "\\1\n" bytes "${bytes}")
file(WRITE "${OUTPUT}"
  "// Generated from ${INPUT} by tests/embed_file.cmake. Do not edit.\n"
  "static const unsigned char ${NAME}[] = {\n${bytes}\n};\n"
  "static const unsigned long ${NAME}_len = ${size};\n")
