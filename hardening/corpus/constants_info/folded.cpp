constants_info_[0].name = "f"; constants_info_[0].dtype = cached_torch_dtype_float32; constants_info_[0].offset = 2;
constants_info_[0].data_size = 64; constants_info_[0].from_folded = true; constants_info_[0].shape = {2, 2}; constants_info_[0].stride = {1, 2};
