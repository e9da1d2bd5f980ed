//! North American Numbering Plan area codes -> IANA zones, grouped by state or province.
//!
//! Area codes are assigned by region, not by zone, so a few span two zones; those take the
//! zone where most of their subscribers live, noted beside each. Overlays share the zone
//! of the code they overlay. Recent overlays are included so new numbers do not silently
//! fall back to Eastern time.
use chrono_tz::Tz;

pub(super) fn zone(area_code: u16) -> Option<Tz> {
    use chrono_tz::America as Am;
    use chrono_tz::Tz as Z;
    let zone = match area_code {
        // --- United States, Eastern ---
        // Connecticut, Delaware, District of Columbia
        203 | 475 | 860 | 959 | 302 | 202 | 771 => Am::New_York,
        // Florida (peninsula and Tallahassee side; 850/448 are below under Central)
        239 | 305 | 321 | 324 | 352 | 386 | 407 | 561 | 645 | 656 | 689 | 727 | 728 | 754 | 772
        | 786 | 813 | 863 | 904 | 941 | 954 => Am::New_York,
        // Georgia
        229 | 404 | 470 | 478 | 678 | 706 | 762 | 770 | 912 | 943 => Am::New_York,
        // Kentucky, east (502 is Louisville)
        502 | 606 | 859 => Am::New_York,
        // Maine, Maryland
        207 | 227 | 240 | 301 | 410 | 443 | 667 => Am::New_York,
        // Massachusetts
        339 | 351 | 413 | 508 | 617 | 774 | 781 | 857 | 978 => Am::New_York,
        // New Hampshire, New Jersey
        603 | 201 | 551 | 609 | 640 | 732 | 848 | 856 | 862 | 908 | 973 => Am::New_York,
        // New York
        212 | 315 | 329 | 332 | 347 | 363 | 516 | 518 | 585 | 607 | 631 | 646 | 680 | 716 | 718
        | 838 | 845 | 914 | 917 | 929 | 934 => Am::New_York,
        // North Carolina
        252 | 336 | 472 | 704 | 743 | 828 | 910 | 919 | 980 | 984 => Am::New_York,
        // Ohio
        216 | 220 | 234 | 283 | 326 | 330 | 380 | 419 | 436 | 440 | 513 | 567 | 614 | 740 | 937 => {
            Am::New_York
        }
        // Pennsylvania
        215 | 223 | 267 | 272 | 412 | 445 | 484 | 570 | 582 | 610 | 717 | 724 | 814 | 835 | 878 => {
            Am::New_York
        }
        // Rhode Island, South Carolina, Vermont
        401 | 803 | 839 | 843 | 854 | 864 | 802 => Am::New_York,
        // Tennessee, east: Chattanooga, Knoxville, Tri-Cities
        423 | 865 => Am::New_York,
        // Virginia, West Virginia
        276 | 434 | 540 | 571 | 703 | 757 | 804 | 826 | 948 | 304 | 681 => Am::New_York,
        // Indiana, Eastern part. 812/930 include Evansville (Central) but most of the
        // south (Bloomington, Columbus, the Louisville suburbs) is Eastern.
        260 | 317 | 463 | 574 | 765 | 812 | 930 => Am::Indiana::Indianapolis,
        // Michigan. 906 (Upper Peninsula) has four Central counties; most of it is Eastern.
        231 | 248 | 269 | 313 | 517 | 586 | 616 | 679 | 734 | 810 | 906 | 947 | 989 => Am::Detroit,

        // --- United States, Central ---
        // Alabama, Arkansas
        205 | 251 | 256 | 334 | 483 | 659 | 938 | 327 | 479 | 501 | 870 => Am::Chicago,
        // Florida panhandle: Pensacola, Fort Walton and Panama City (Central) outnumber
        // Tallahassee (Eastern).
        448 | 850 => Am::Chicago,
        // Illinois
        217 | 224 | 309 | 312 | 331 | 447 | 464 | 618 | 630 | 708 | 730 | 773 | 779 | 815 | 847
        | 861 | 872 => Am::Chicago,
        // Indiana, northwest (Gary)
        219 => Am::Chicago,
        // Iowa
        319 | 515 | 563 | 641 | 712 => Am::Chicago,
        // Kansas (a few western counties are Mountain)
        316 | 620 | 785 | 913 => Am::Chicago,
        // Kentucky, west: Bowling Green, Owensboro, Paducah are Central
        270 | 364 => Am::Chicago,
        // Louisiana
        225 | 318 | 337 | 504 | 985 => Am::Chicago,
        // Minnesota, Mississippi
        218 | 320 | 507 | 612 | 651 | 763 | 924 | 952 | 228 | 601 | 662 | 769 => Am::Chicago,
        // Missouri
        314 | 417 | 557 | 573 | 636 | 660 | 816 | 975 => Am::Chicago,
        // Nebraska (308's panhandle is Mountain; Grand Island, Kearney are Central)
        308 | 402 | 531 => Am::Chicago,
        // North Dakota, South Dakota (their south-west / West River are Mountain)
        701 | 605 => Am::Chicago,
        // Oklahoma
        405 | 539 | 572 | 580 | 918 => Am::Chicago,
        // Tennessee, middle and west (931 has a few Eastern counties)
        615 | 629 | 731 | 901 | 931 => Am::Chicago,
        // Texas (El Paso, 915, is Mountain: below)
        210 | 214 | 254 | 281 | 325 | 346 | 361 | 409 | 430 | 432 | 469 | 512 | 682 | 713 | 726
        | 737 | 806 | 817 | 830 | 832 | 903 | 936 | 940 | 945 | 956 | 972 | 979 => Am::Chicago,
        // Wisconsin
        262 | 274 | 353 | 414 | 534 | 608 | 715 | 920 => Am::Chicago,

        // --- United States, Mountain ---
        // Colorado, Montana, New Mexico, Utah, Wyoming, El Paso
        303 | 719 | 720 | 970 | 983 | 406 | 505 | 575 | 385 | 435 | 801 | 307 | 915 => Am::Denver,
        // Idaho: Boise and the south; the panhandle (Pacific) is the smaller part
        208 | 986 => Am::Boise,
        // Arizona keeps standard time all year (the Navajo Nation's DST is the exception)
        480 | 520 | 602 | 623 | 928 => Am::Phoenix,

        // --- United States, Pacific ---
        // California
        209 | 213 | 279 | 310 | 323 | 341 | 350 | 357 | 369 | 408 | 415 | 424 | 442 | 510 | 530
        | 559 | 562 | 619 | 626 | 628 | 650 | 657 | 661 | 669 | 707 | 714 | 738 | 747 | 760
        | 805 | 818 | 820 | 840 | 858 | 909 | 916 | 925 | 949 | 951 => Am::Los_Angeles,
        // Nevada, Oregon (541 has one Mountain county), Washington
        702 | 725 | 775 | 458 | 503 | 541 | 971 | 206 | 253 | 360 | 425 | 509 | 564 => {
            Am::Los_Angeles
        }

        // --- United States, Alaska, Hawaii and territories ---
        907 => Am::Anchorage,
        808 => Z::Pacific__Honolulu,
        787 | 939 => Am::Puerto_Rico,
        340 => Am::St_Thomas,
        670 => Z::Pacific__Saipan,
        671 => Z::Pacific__Guam,
        684 => Z::Pacific__Pago_Pago,

        // --- Canada ---
        // Alberta
        368 | 403 | 587 | 780 | 825 => Am::Edmonton,
        // British Columbia (the Kootenays and Peace River differ; most people are Pacific)
        236 | 250 | 257 | 604 | 672 | 778 => Am::Vancouver,
        // Manitoba
        204 | 431 | 584 => Am::Winnipeg,
        // New Brunswick; Nova Scotia and Prince Edward Island
        428 | 506 => Am::Moncton,
        782 | 902 => Am::Halifax,
        // Newfoundland and Labrador (Labrador is mostly Atlantic, but smaller)
        709 | 879 => Am::St_Johns,
        // Ontario (807's Kenora district is Central; Thunder Bay, the larger part, Eastern)
        226 | 249 | 289 | 343 | 365 | 382 | 416 | 437 | 519 | 548 | 613 | 647 | 683 | 705 | 742
        | 753 | 807 | 905 | 942 => Am::Toronto,
        // Quebec (Eastern apart from the Magdalen Islands and the Lower North Shore)
        263 | 354 | 367 | 418 | 438 | 450 | 468 | 514 | 579 | 581 | 819 | 873 => Am::Toronto,
        // Saskatchewan keeps Central standard time all year
        306 | 474 | 639 => Am::Regina,
        // Yukon, Northwest Territories, Nunavut: spans four zones; Mountain covers the
        // two larger territories' capitals (Whitehorse is on Mountain standard all year).
        867 => Am::Edmonton,

        // --- Caribbean and Atlantic members of the plan ---
        242 => Am::Nassau,
        246 => Am::Barbados,
        264 => Am::Anguilla,
        268 => Am::Antigua,
        284 => Am::Tortola,
        345 => Am::Cayman,
        441 => Z::Atlantic__Bermuda,
        473 => Am::Grenada,
        649 => Am::Grand_Turk,
        658 | 876 => Am::Jamaica,
        664 => Am::Montserrat,
        721 => Am::Lower_Princes,
        758 => Am::St_Lucia,
        767 => Am::Dominica,
        784 => Am::St_Vincent,
        809 | 829 | 849 => Am::Santo_Domingo,
        868 => Am::Port_of_Spain,
        869 => Am::St_Kitts,
        _ => return None,
    };
    Some(zone)
}
