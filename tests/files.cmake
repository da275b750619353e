derp_unit_test(files_test SOURCES unit/files/atomic_file_test.cc DEPS derp_files)
